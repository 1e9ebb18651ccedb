// Public surface of @rds-nvme-csi/sim-nvme.
export {};
