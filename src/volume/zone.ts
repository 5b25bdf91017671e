/** The one availability zone Hitch's block storage has (Cinder's default `storage_availability_zone`). */
export const AVAILABILITY_ZONE = 'nova';
