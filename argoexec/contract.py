"""The wire contract with Argo's controller (argo-contract.md): names, paths, codes. Stdlib only.

Every environment variable, fixed path, label, annotation and default that more than one part
of the project (executor, emissary, controller, artifacts) names is defined here once and
imported everywhere else (architecture.md §3.10). Tests keep literal strings: they check the
contract from outside.
"""

from __future__ import annotations

# Argo's API group and version (Workflow, WorkflowTaskResult, ... and owner references).
API_GROUP = "argoproj.io"
API_GROUP_VERSION = "v1alpha1"
API_VERSION = f"{API_GROUP}/{API_GROUP_VERSION}"

# The executor image the controller puts in init, wait and resource/data mains: Argo's default
# is quay.io/argoproj/argoexec:<the controller's release tag> (controller.executorImage, with
# argo.ImageTag()), so v4.1.2 for the release this project follows.
DEFAULT_EXECUTOR_IMAGE = "quay.io/argoproj/argoexec:v4.1.2"
# What `argoexec run --runtime` can be: sandboxed host processes, or real pods in podman.
LOCAL_RUNTIME = "local"
PODMAN_RUNTIME = "podman"
RUNTIMES = (LOCAL_RUNTIME, PODMAN_RUNTIME)
# Which pods of the local runtime get a network namespace of their own (`argoexec run
# --pod-network`, ARGOEXEC_POD_NETWORK): daemons and pods with sidecars (auto), every pod
# (pod, as on Kubernetes), or none (host: every pod on this machine's network).
POD_NETWORK_AUTO = "auto"
POD_NETWORK_POD = "pod"
POD_NETWORK_HOST = "host"
POD_NETWORKS = (POD_NETWORK_AUTO, POD_NETWORK_POD, POD_NETWORK_HOST)
DEFAULT_POD_NETWORK = POD_NETWORK_AUTO
# The executor image of the podman runtime: built locally by `make image`.
PODMAN_EXECUTOR_IMAGE = "localhost/argoexec:latest"
# The executor's command inside that image (`argoexec init`, `argoexec wait`, ...).
EXECUTOR_COMMAND = "argoexec"

# Environment variables set by the controller (§1.5, §10.5).
ENV_POD_NAME = "ARGO_POD_NAME"
ENV_POD_UID = "ARGO_POD_UID"
ENV_WORKFLOW_NAME = "ARGO_WORKFLOW_NAME"
ENV_WORKFLOW_UID = "ARGO_WORKFLOW_UID"
# The agent pod (`argoexec agent`): how often it patches its task set's status (a Go
# duration, 10s by default), how many tasks it runs at once (16), and the executor plugins'
# sidecars (JSON lists; none here).
ENV_AGENT_PATCH_RATE = "ARGO_AGENT_PATCH_RATE"
ENV_AGENT_TASK_WORKERS = "ARGO_AGENT_TASK_WORKERS"
ENV_PLUGIN_ADDRESSES = "ARGO_PLUGIN_ADDRESSES"
ENV_PLUGIN_NAMES = "ARGO_PLUGIN_NAMES"
DEFAULT_AGENT_PATCH_RATE = 10.0
DEFAULT_AGENT_TASK_WORKERS = 16
WORKFLOW_TASK_SETS = "workflowtasksets"
ENV_NODE_ID = "ARGO_NODE_ID"
ENV_INSTANCE_ID = "ARGO_INSTANCE_ID"
ENV_CONTAINER_NAME = "ARGO_CONTAINER_NAME"
ENV_TEMPLATE = "ARGO_TEMPLATE"
ENV_DEADLINE = "ARGO_DEADLINE"
ENV_INCLUDE_SCRIPT_OUTPUT = "ARGO_INCLUDE_SCRIPT_OUTPUT"
ENV_TERMINATION_GRACE_PERIOD_SECONDS = "ARGO_TERMINATION_GRACE_PERIOD_SECONDS"
ENV_PROGRESS_FILE = "ARGO_PROGRESS_FILE"
# Progress monitor ticks (Go durations): how often wait patches progress / reads the file.
ENV_PROGRESS_PATCH_TICK = "ARGO_PROGRESS_PATCH_TICK_DURATION"
ENV_PROGRESS_FILE_TICK = "ARGO_PROGRESS_FILE_TICK_DURATION"
ENV_CONTAINER_ARGS_FILE = "ARGO_CONTAINER_ARGS_FILE"
ENV_DEBUG_PAUSE_BEFORE = "ARGO_DEBUG_PAUSE_BEFORE"
ENV_DEBUG_PAUSE_AFTER = "ARGO_DEBUG_PAUSE_AFTER"
# Comma-separated artifact plugins whose sidecars wait stops at the end.
ENV_ARTIFACT_PLUGIN_NAMES = "ARGO_ARTIFACT_PLUGIN_NAMES"
# "true": wait deletes each staged output after its upload (Argo's maybeDeleteLocalArtPath).
ENV_REMOVE_LOCAL_ART_PATH = "REMOVE_LOCAL_ART_PATH"
# Artifact GC (§9.1): the GC pod's hash (fnv32a of its name, decimal), which labels its
# WorkflowArtifactGCTasks; the label, the pod's strategy annotation, the Workflow's finalizer.
ENV_ARTIFACT_GC_POD_HASH = "ARGO_ARTIFACT_POD_NAME"
LABEL_ARTIFACT_GC_POD = "workflows.argoproj.io/artifact-gc-pod"
ANNOTATION_ARTIFACT_GC_STRATEGY = "workflows.argoproj.io/artifact-gc-strategy"
FINALIZER_ARTIFACT_GC = "workflows.argoproj.io/artifact-gc"
COMPONENT_ARTIFACT_GC = "artifact-gc"  # the value of LABEL_COMPONENT on GC pods

# Argo's executor tuning variables (the controller's `executor.env` sets them; §10.5).
ENV_S3_UPLOAD_THREADS = "ARTIFACT_S3_UPLOAD_THREADS"
ENV_S3_UPLOAD_PART_SIZE_MIB = "ARTIFACT_S3_UPLOAD_PART_SIZE_MIB"
ENV_RETRY_BACKOFF_STEPS = "EXECUTOR_RETRY_BACKOFF_STEPS"
ENV_RETRY_BACKOFF_DURATION = "EXECUTOR_RETRY_BACKOFF_DURATION"
ENV_RETRY_BACKOFF_FACTOR = "EXECUTOR_RETRY_BACKOFF_FACTOR"
ENV_RETRY_BACKOFF_JITTER = "EXECUTOR_RETRY_BACKOFF_JITTER"
ENV_TRANSIENT_ERROR_PATTERN = "TRANSIENT_ERROR_PATTERN"
# How often `resource` polls its object's conditions (a Go duration).
ENV_RESOURCE_STATE_CHECK_INTERVAL = "RESOURCE_STATE_CHECK_INTERVAL"

# Ours, not Argo's: relocate /var/run/argo and the termination log (local runtime, tests).
ENV_VAR_RUN_DIR = "ARGOEXEC_VAR_RUN_DIR"
ENV_TERMINATION_LOG = "ARGOEXEC_TERMINATION_LOG"
ENV_PATH_MAP = "ARGOEXEC_PATH_MAP"
# Ours: the file init copies to /var/run/argo/argoexec (else it writes a launcher for itself).
ENV_EMISSARY_BINARY = "ARGOEXEC_EMISSARY_BINARY"
# Ours: wait (or a resource main) reports its NodeResult to this JSON file instead of a
# WorkflowTaskResult (the local runtime, which has no API server).
ENV_RESULT_FILE = "ARGOEXEC_RESULT_FILE"
# Ours: a descriptor an executor container started ahead of time (the local runtime starts `wait`
# while the pod's init containers run) reads "go" from once its command is loaded; EOF: exit.
ENV_START_GATE = "ARGOEXEC_START_GATE"
# Ours: the cap on what one archive may expand to (named in the refusal, so users can raise it).
ENV_MAX_EXTRACT_BYTES = "ARGOEXEC_MAX_EXTRACT_BYTES"
# Ours: the cap on one node's output parameters, which `wait` enforces (the local runtime sets it
# to what `argoexec run` uses, so both sides agree).
ENV_MAX_OUTPUT_PARAMETERS_BYTES = "ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES"
# How a refusal of too large output parameters says what to do (wait's and the controller's).
PARAMETERS_HINT = (
    f"pass large values as artifacts, or raise the cap with {ENV_MAX_OUTPUT_PARAMETERS_BYTES};"
    " 0 = no cap"
)
# Ours: transfer tuning of the artifact layer (config.py's table gives units and rules).
ENV_DOWNLOAD_THREADS = "ARGOEXEC_DOWNLOAD_THREADS"
ENV_DOWNLOAD_CHUNK_MIB = "ARGOEXEC_DOWNLOAD_CHUNK_MIB"
ENV_PARALLEL_DOWNLOAD_THRESHOLD_MIB = "ARGOEXEC_PARALLEL_DOWNLOAD_THRESHOLD_MIB"
ENV_DIR_WORKERS = "ARGOEXEC_DIR_WORKERS"
ENV_COMPRESSION_LEVEL = "ARGOEXEC_COMPRESSION_LEVEL"
ENV_COMPRESSION_THREADS = "ARGOEXEC_COMPRESSION_THREADS"
ENV_HTTP_CA_BUNDLE = "ARGOEXEC_HTTP_CA_BUNDLE"
ENV_CONNECT_TIMEOUT = "ARGOEXEC_CONNECT_TIMEOUT"
ENV_READ_TIMEOUT = "ARGOEXEC_READ_TIMEOUT"
# Ours: the thin controller's state directory and the bounds of `argoexec run`.
ENV_STATE_DIR = "ARGOEXEC_STATE_DIR"
ENV_MAX_CHILDREN = "ARGOEXEC_MAX_CHILDREN"
ENV_MAX_PODS = "ARGOEXEC_MAX_PODS"
ENV_POD_NETWORK = "ARGOEXEC_POD_NETWORK"
# How a refusal at those bounds says what to do (too many children; a pod waiting for a slot).
MAX_ITEMS_HINT = f"raise it with --max-children or {ENV_MAX_CHILDREN}; 0 = no cap"
MAX_PODS_HINT = f"--max-pods or {ENV_MAX_PODS}; 0 = no cap"
# `argoexec controller` on a cluster: its name in the leader-election Lease (Argo's variable;
# the manifests set it to the pod's name). Unset: <hostname>-<pid>.
ENV_LEADER_ELECTION_IDENTITY = "LEADER_ELECTION_IDENTITY"

# Labels (§1.1, §4.6).
LABEL_WORKFLOW = "workflows.argoproj.io/workflow"
LABEL_COMPLETED = "workflows.argoproj.io/completed"  # pod: "false" until the node is done
# The agent pod's `workflows.argoproj.io/component: agent` (NetworkPolicies single it out).
LABEL_COMPONENT = "workflows.argoproj.io/component"
LABEL_ON_EXIT = "workflows.argoproj.io/on-exit"  # pod of an exit handler
LABEL_INSTANCE_ID = "workflows.argoproj.io/controller-instanceid"
# WorkflowTaskResult: "true" once wait has reported everything (outputs are final).
LABEL_REPORT_OUTPUTS_COMPLETED = "workflows.argoproj.io/report-outputs-completed"
# Workflow metadata set when a CronWorkflow is run (Argo's common.ConvertCronWorkflowToWorkflow).
LABEL_CRON_WORKFLOW = "workflows.argoproj.io/cron-workflow"
# Set to "true" on a CronWorkflow its stopStrategy stopped (Argo's LabelKeyCronWorkflowCompleted).
LABEL_CRON_WORKFLOW_COMPLETED = "workflows.argoproj.io/cron-workflow-completed"
ANNOTATION_SCHEDULED_TIME = "workflows.argoproj.io/scheduled-time"
# Workflow labels and annotations the controller and the CLI's actions read or write (Argo's
# workflow/common/common.go). `completed` is pods' too: argoexec.controller.pod.meta owns it.
LABEL_PHASE = "workflows.argoproj.io/phase"
# Memoization cache ConfigMaps carry it (Argo refuses one without it).
LABEL_CONFIGMAP_TYPE = "workflows.argoproj.io/configmap-type"
CONFIGMAP_TYPE_CACHE = "Cache"
LABEL_WORKFLOW_ARCHIVING_STATUS = "workflows.argoproj.io/workflow-archiving-status"
LABEL_CREATOR = "workflows.argoproj.io/creator"
LABEL_CREATOR_EMAIL = "workflows.argoproj.io/creator-email"
LABEL_CREATOR_PREFERRED_USERNAME = "workflows.argoproj.io/creator-preferred-username"
LABEL_RESUBMITTED_FROM = "workflows.argoproj.io/resubmitted-from-workflow"

# Annotations (§1.1, §13.1).
ANNOTATION_NODE_NAME = "workflows.argoproj.io/node-name"
ANNOTATION_NODE_ID = "workflows.argoproj.io/node-id"
ANNOTATION_POD_GC_STRATEGY = "workflows.argoproj.io/pod-gc-strategy"  # <strategy>/<delay>
ANNOTATION_DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
# Workflow annotation: "v1" names pods after the node ID (else pod-name format v2).
ANNOTATION_POD_NAME_FORMAT = "workflows.argoproj.io/pod-name-format"
# Namespace ConfigMap annotation: the key of its default artifact repository.
ANNOTATION_DEFAULT_ARTIFACT_REPOSITORY = "workflows.argoproj.io/default-artifact-repository"

# Container names (§1.3).
MAIN_CONTAINER = "main"
INIT_CONTAINER = "init"
WAIT_CONTAINER = "wait"

# Paths (§1.2, §2.1).
VAR_RUN_ARGO = "/var/run/argo"  # the layout below it is varrun.VarRun's
OFFLOADED = "offloaded"  # ARGO_TEMPLATE sentinel: the value is in OFFLOADED_TEMPLATE_PATH
CONFIG_DIR = "/argo/config"  # the pod's ConfigMap of offloaded values
OFFLOADED_TEMPLATE_PATH = f"{CONFIG_DIR}/{ENV_TEMPLATE}"
CONTAINER_ARGS_FILE_PATH = f"{CONFIG_DIR}/{ENV_CONTAINER_ARGS_FILE}"
SECRETS_DIR = "/argo/secret"
INPUT_ARTIFACTS_DIR = "/argo/inputs/artifacts"  # init loads input artifacts here
STAGING_DIR = "/argo/staging"
STAGING_SCRIPT = f"{STAGING_DIR}/script"
MAINCTRFS = "/mainctrfs"  # main's volume mounts as wait (and init) see them
MANIFEST_PATH = "/tmp/manifest.yaml"  # a resource template's manifest, staged by init
# Where wait stages output artifacts it unpacks or packs (Argo's tempOutArtDir).
OUTPUT_ARTIFACTS_STAGING = "/tmp/argo/outputs/artifacts"
TERMINATION_LOG = "/dev/termination-log"
TERMINATION_LOG_MAX = 4096
ZERO_DEADLINE = "0001-01-01T00:00:00Z"

# Volume names (§1.2).
VAR_RUN_ARGO_VOLUME = "var-run-argo"
TMP_DIR_VOLUME = "tmp-dir-argo"
INPUT_ARTIFACTS_VOLUME = "input-artifacts"
STAGING_VOLUME = "argo-staging"
CONFIG_VOLUME = "argo-env-config"

# Ours: what the thin controller adds to a pod on the local runtime. The reporting container
# gets RESULT_VOLUME at RESULT_DIR and ARGOEXEC_RESULT_FILE=RESULT_FILE; a resource main gets
# the controller's kubeconfig at KUBECONFIG_IN_POD; init and wait get the host directories of
# `local:` artifact locations as LOCAL_ARTIFACTS_VOLUME-<n>.
RESULT_VOLUME = "argoexec-result"
RESULT_DIR = "/var/run/argoexec"
RESULT_FILE_NAME = "result.json"
RESULT_FILE = f"{RESULT_DIR}/{RESULT_FILE_NAME}"
KUBECONFIG_VOLUME = "argoexec-kubeconfig"
KUBECONFIG_IN_POD = "/var/run/argoexec-kube/config"
LOCAL_ARTIFACTS_VOLUME = "argoexec-local-artifacts"

# Process exit codes (§0.2).
EXIT_INTERNAL = 64
EXIT_SUPERVISOR_PRE_MAIN_FAILURE = 65
EXIT_PANIC = 2
EXIT_FATAL = 1

# Emissary limits (§1.6, §2.4).
MAX_ARG_LEN = 131072
RESULT_MAX_BYTES = 262144
# Argo reads output parameters without a cap of its own, but they travel in the node's
# WorkflowTaskResult, which must fit etcd's request limit (1.5 MiB, `--max-request-bytes`):
# larger values fail there ("etcdserver: request is too large"). Ours: the same bound on the
# output parameters of one node taken together, checked before a value is read whole.
MAX_OUTPUT_PARAMETERS_BYTES = 1572864
DEFAULT_GRACE_SECONDS = 30.0
