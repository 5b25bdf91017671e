/**
 * The tables Hitch keeps, as Kysely sees them. Every column uses a type both SQLite and
 * PostgreSQL store the same way (text, integer, 0/1 booleans, ISO-8601 text timestamps), so
 * one query runs unchanged on either dialect and rows compare equal across them.
 */
import type { Generated } from 'kysely';

export interface ProjectTable {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: number;
}

export interface UserTable {
  id: string;
  name: string;
  domain_id: string;
  /** `scrypt$N$r$p$salt$hash`, never the password. */
  password_hash: string;
  default_project_id: string | null;
  enabled: number;
  /** JSON object of the user's other attributes (description, email), or null. */
  extra: string | null;
}

export interface RoleTable {
  id: string;
  name: string;
}

export interface RoleAssignmentTable {
  user_id: string;
  project_id: string;
  role_id: string;
}

export interface TokenTable {
  /** SHA-256 of the token: the clear token is never stored. */
  token_hash: string;
  user_id: string;
  project_id: string | null;
  audit_id: string;
  issued_at: string;
  expires_at: string;
  revoked: number;
  /** The application credential the token was issued for, or null (password, token). */
  app_cred_id: string | null;
}

export interface ApplicationCredentialTable {
  id: string;
  user_id: string;
  project_id: string;
  name: string;
  description: string | null;
  /** scrypt hash of the secret (as passwords): the secret itself is shown once, at create. */
  secret_hash: string;
  /** JSON array of role ids. */
  role_ids: string;
  unrestricted: number;
  expires_at: string | null;
  created_at: string;
}

export interface VolumeTypeTable {
  id: string;
  name: string;
  description: string | null;
  is_public: number;
  /** JSON object of string → string. */
  extra_specs: string;
  qos_specs_id: string | null;
}

export interface VolumeTable {
  id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  attach_status: string;
  migration_status: string | null;
  multiattach: number;
  bootable: number;
  volume_type_id: string;
  availability_zone: string;
  /** Cinder's `host@backend#pool`. */
  host: string;
  /** Backend-private export data (JSON), e.g. the array LUN; never shown to users. */
  provider_location: string | null;
  /** JSON object of string → string. */
  metadata: string;
  created_at: string;
  updated_at: string | null;
  /** The snapshot or volume the volume was made from, or null. */
  snapshot_id: string | null;
  source_volid: string | null;
  /** JSON: Cinder's admin metadata (`readonly`, `attached_mode`), shown in `metadata` as Cinder does. */
  admin_metadata: string;
  /** What the status was before a transition that may roll back (extending). */
  previous_status: string | null;
}

export interface SnapshotTable {
  id: string;
  volume_id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  /** Cinder's `os-extended-snapshot-attributes:progress`: `0%` … `100%`. */
  progress: string;
  volume_type_id: string;
  /** JSON object of string → string. */
  metadata: string;
  /** Backend-private, never shown. */
  provider_location: string | null;
  created_at: string;
  updated_at: string | null;
}

export interface VolumeTypeProjectTable {
  volume_type_id: string;
  project_id: string;
}

export interface DefaultVolumeTypeTable {
  project_id: string;
  volume_type_id: string;
}

export interface QosSpecsTable {
  id: string;
  name: string;
  /** `front-end`, `back-end` or `both`. */
  consumer: string;
  /** JSON object of string → string. */
  specs: string;
  created_at: string;
}

export interface QuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

export interface QuotaClassTable {
  class_name: string;
  resource: string;
  hard_limit: number;
}

export interface QuotaUsageTable {
  project_id: string;
  resource: string;
  in_use: number;
  reserved: number;
}

export interface QuotaReservationTable {
  id: string;
  project_id: string;
  resource: string;
  delta: number;
  expires_at: string;
}

export interface TransferTable {
  id: string;
  volume_id: string;
  source_project_id: string;
  name: string | null;
  salt: string;
  /** scrypt of the auth key; the key itself is shown once, at create. */
  crypt_hash: string;
  no_snapshots: number;
  created_at: string;
}

export interface ServiceTable {
  binary: string;
  host: string;
  zone: string;
  disabled: number;
  disabled_reason: string | null;
  created_at: string;
  /** The last heartbeat. */
  updated_at: string;
}

/** One metadata key of a volume (the list filter's index; the JSON column is what views read). */
export interface VolumeMetadataTable {
  volume_id: string;
  /** The volume's project (kept equal to volumes.project_id by the repository). */
  project_id: string;
  key: string;
  value: string;
}

export interface AttachmentTable {
  id: string;
  volume_id: string;
  project_id: string;
  instance_uuid: string | null;
  attached_host: string | null;
  mountpoint: string | null;
  attach_status: string;
  attach_mode: string;
  /** JSON: the connector the host sent, or null before it sent one. */
  connector: string | null;
  /** JSON: the connection_info the backend returned, or null. */
  connection_info: string | null;
  attach_time: string | null;
  detach_time: string | null;
  created_at: string;
  updated_at: string | null;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  projects: ProjectTable;
  users: UserTable;
  roles: RoleTable;
  role_assignments: RoleAssignmentTable;
  tokens: TokenTable;
  application_credentials: ApplicationCredentialTable;
  volume_types: VolumeTypeTable;
  volumes: VolumeTable;
  volume_metadata: VolumeMetadataTable;
  attachments: AttachmentTable;
  snapshots: SnapshotTable;
  volume_type_projects: VolumeTypeProjectTable;
  default_volume_types: DefaultVolumeTypeTable;
  qos_specs: QosSpecsTable;
  volume_quotas: QuotaTable;
  volume_quota_classes: QuotaClassTable;
  volume_quota_usages: QuotaUsageTable;
  volume_quota_reservations: QuotaReservationTable;
  transfers: TransferTable;
  services: ServiceTable;
  hitch_meta: MetaTable;
}

/** For the rare tables that want an autoincrement id later. */
export type AutoId = Generated<number>;
