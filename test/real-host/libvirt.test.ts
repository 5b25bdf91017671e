/**
 * The suites that need libvirtd run from this one file, one after the other: each starts
 * libvirtd when it is not running and stops what it started, which two files in parallel
 * workers would race on (one stopping the daemon the other is using).
 */
import './attach.suite.ts';
import './libvirt-conformance.suite.ts';
