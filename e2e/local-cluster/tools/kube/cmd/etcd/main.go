// Command etcd is upstream etcd's server entry point, built at the version k8s.io/kubernetes
// v1.36.3 pins (go.etcd.io/etcd/server/v3 v3.6.8), so the API server talks to the etcd it was
// tested with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
