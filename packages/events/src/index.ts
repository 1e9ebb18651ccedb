// Public surface of @rds-nvme-csi/events.
export {};
