// The storage backend as the controller sees it: disks in a pool, addressed by slot. The RouterOS
// implementation is in backend/routeros/; the controller never builds command lines itself.

export interface Disk {
  slot: string;
  /** Absolute path of the backing file. */
  filePath: string | undefined;
  /** Exact size in bytes, when the backend printed it. */
  sizeBytes: bigint | undefined;
  /** NVMe/TCP export, if exported. */
  export: { nqn: string | undefined; port: number | undefined } | undefined;
}

export interface CreateDiskSpec {
  slot: string;
  filePath: string;
  /** Allocation-aligned size; omitted for a copy that keeps the source's size. */
  sizeBytes?: bigint;
  /** Copy the contents of this existing disk. */
  copyFromSlot?: string;
  export?: { nqn: string; port: number };
}

export interface PoolCapacity {
  totalBytes: bigint;
  freeBytes: bigint;
}

export interface StorageBackend {
  /** Succeeds when the storage system answers. */
  probe(): Promise<void>;
  getDisk(slot: string): Promise<Disk | undefined>;
  listDisks(): Promise<Disk[]>;
  /** Throws ResourceExhaustedError when the pool is full. */
  createDisk(spec: CreateDiskSpec): Promise<void>;
  resizeDisk(slot: string, sizeBytes: bigint): Promise<void>;
  /** No-op when the disk does not exist. */
  removeDisk(slot: string): Promise<void>;
  /** No-op when the file does not exist. */
  removeFile(path: string): Promise<void>;
  capacity(poolDir: string): Promise<PoolCapacity>;
  close(): Promise<void>;
}
