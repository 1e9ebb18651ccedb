// Public surface of @rds-nvme-csi/driver.
export {};
