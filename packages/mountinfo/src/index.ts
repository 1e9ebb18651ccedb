// Public surface of @rds-nvme-csi/mountinfo.
export {};
