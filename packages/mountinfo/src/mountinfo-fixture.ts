// Writers of mountinfo text in the kernel's format, for tests and benchmarks (here and in the
// driver): the inverse of the parser, including the kernel's octal escaping.

export interface MountinfoLineSpec {
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  root?: string;
  mountPoint: string;
  mountOptions?: string;
  optional?: string[];
  fsType: string;
  source: string;
  superOptions?: string;
}

/** Escape like the kernel's mangle(): space, tab, newline and backslash as \ooo. */
export function escapeMountinfo(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

export function mountinfoLine(s: MountinfoLineSpec): string {
  return [
    s.mountId,
    s.parentId,
    `${s.major}:${s.minor}`,
    escapeMountinfo(s.root ?? "/"),
    escapeMountinfo(s.mountPoint),
    s.mountOptions ?? "rw,relatime",
    ...(s.optional ?? []),
    "-",
    escapeMountinfo(s.fsType),
    escapeMountinfo(s.source),
    s.superOptions ?? "rw",
  ].join(" ");
}

/**
 * A realistic table of `count` lines: system mounts, then kubelet-like staging mounts and pod
 * bind mounts of NVMe devices (259:x), as a node with many volumes shows it.
 */
export function generateMountinfo(count: number): string {
  const lines: string[] = [
    mountinfoLine({
      mountId: 1,
      parentId: 0,
      major: 254,
      minor: 0,
      mountPoint: "/",
      fsType: "ext4",
      source: "/dev/vda1",
      optional: ["shared:1"],
    }),
  ];
  let id = 2;
  while (lines.length < count) {
    const n = id;
    const volume = `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;
    const kind = n % 4;
    if (kind === 0) {
      lines.push(
        mountinfoLine({
          mountId: id++,
          parentId: 1,
          major: 0,
          minor: 20 + (n % 50),
          mountPoint: `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${n}/rootfs`,
          fsType: "overlay",
          source: "overlay",
          optional: [`shared:${n}`],
          superOptions: `rw,lowerdir=/var/lib/containerd/l/${n}:/var/lib/containerd/l/base,upperdir=/var/lib/containerd/u/${n},workdir=/var/lib/containerd/w/${n}`,
        }),
      );
    } else if (kind === 1) {
      lines.push(
        mountinfoLine({
          mountId: id++,
          parentId: 1,
          major: 259,
          minor: n,
          mountPoint: `/var/lib/kubelet/plugins/kubernetes.io/csi/rds-nvme.csi.dev/${volume}/globalmount`,
          fsType: "ext4",
          source: `/dev/nvme${n}n1`,
          optional: [`shared:${n}`],
        }),
      );
    } else if (kind === 2) {
      lines.push(
        mountinfoLine({
          mountId: id++,
          parentId: 1,
          major: 259,
          minor: n - 1,
          mountPoint: `/var/lib/kubelet/pods/${n}/volumes/kubernetes.io~csi/${volume}/mount`,
          fsType: "ext4",
          source: `/dev/nvme${n - 1}n1`,
          optional: [`shared:${n - 1}`],
        }),
      );
    } else {
      lines.push(
        mountinfoLine({
          mountId: id++,
          parentId: 1,
          major: 0,
          minor: 100 + (n % 100),
          mountPoint: `/var/lib/kubelet/pods/${n}/volumes/kubernetes.io~projected/kube api access`,
          fsType: "tmpfs",
          source: "tmpfs",
          mountOptions: "rw,relatime",
          superOptions: "rw,size=65536k",
        }),
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
