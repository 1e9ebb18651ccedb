// Public surface of @rds-nvme-csi/events: a Kubernetes EventRecorder with client-go's
// correlation semantics (dedupe, aggregation, spam filter) and a bounded asynchronous sink.
export { createEventRecorder, CorrelatingEventRecorder, NoopEventRecorder } from "./recorder.js";
export type { EventRecorder, EventRecorderOptions } from "./recorder.js";
export { pvcRef, podRef, nodeRef, eventNamespace, describeRef } from "./references.js";
export * from "./reasons.js";
export { MemorySink, EventSinkError } from "./sink.js";
export type { EventSink, SinkWrite } from "./sink.js";
export { ApiEventSink, apiUidResolver, toSinkError } from "./api-sink.js";
export { CachedUidResolver, StaticUidResolver } from "./uid-resolver.js";
export type { UidResolver } from "./uid-resolver.js";
export { EventCorrelator, COMBINED_PREFIX, DEFAULT_CORRELATOR_OPTIONS } from "./correlator.js";
export type { CorrelatorOptions, Correlation } from "./correlator.js";
export { EventQueue, DEFAULT_RETRY_POLICY, realSleep } from "./event-queue.js";
export type { RetryPolicy, SleepFn, QueuedWrite } from "./event-queue.js";
export { EventNamer, patchOf } from "./event-body.js";
export type { EventBody, EventPatch, InvolvedObject } from "./event-body.js";
export { resolveKubeConfig, KubeConfigError } from "./kubeconfig.js";
export type { KubeConfigSpec, ResolveKubeConfigOptions, ResolvedKubeConfig } from "./kubeconfig.js";
export { TokenBucket } from "./token-bucket.js";
export { systemClock, stderrLogger, silentLogger, safeLogger, zeroCounters } from "./types.js";
export type {
  Clock,
  EventCounters,
  EventLogger,
  EventSpec,
  EventType,
  ObjectRef,
} from "./types.js";
