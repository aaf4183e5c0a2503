"""The wire contract with Argo's controller (argo-contract.md): names, paths, codes. Stdlib only."""

from __future__ import annotations

# Environment variables set by the controller (§1.5, §10.5).
ENV_POD_NAME = "ARGO_POD_NAME"
ENV_POD_UID = "ARGO_POD_UID"
ENV_WORKFLOW_NAME = "ARGO_WORKFLOW_NAME"
ENV_WORKFLOW_UID = "ARGO_WORKFLOW_UID"
ENV_NODE_ID = "ARGO_NODE_ID"
ENV_INSTANCE_ID = "ARGO_INSTANCE_ID"
ENV_CONTAINER_NAME = "ARGO_CONTAINER_NAME"
ENV_TEMPLATE = "ARGO_TEMPLATE"
ENV_DEADLINE = "ARGO_DEADLINE"
ENV_INCLUDE_SCRIPT_OUTPUT = "ARGO_INCLUDE_SCRIPT_OUTPUT"
ENV_TERMINATION_GRACE_PERIOD_SECONDS = "ARGO_TERMINATION_GRACE_PERIOD_SECONDS"
ENV_PROGRESS_FILE = "ARGO_PROGRESS_FILE"
ENV_CONTAINER_ARGS_FILE = "ARGO_CONTAINER_ARGS_FILE"
ENV_DEBUG_PAUSE_BEFORE = "ARGO_DEBUG_PAUSE_BEFORE"
ENV_DEBUG_PAUSE_AFTER = "ARGO_DEBUG_PAUSE_AFTER"
# Ours, not Argo's: relocate /var/run/argo and the termination log (local runtime, tests).
ENV_VAR_RUN_DIR = "ARGOEXEC_VAR_RUN_DIR"
ENV_TERMINATION_LOG = "ARGOEXEC_TERMINATION_LOG"
ENV_PATH_MAP = "ARGOEXEC_PATH_MAP"
# Ours: `wait` reports its NodeResult to this file rather than to a WorkflowTaskResult (local).
ENV_RESULT_FILE = "ARGOEXEC_RESULT_FILE"
# Ours: the file init copies to /var/run/argo/argoexec (else it writes a launcher for itself).
ENV_EMISSARY_BINARY = "ARGOEXEC_EMISSARY_BINARY"
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

# Workflow metadata set when a CronWorkflow is run (Argo's common.ConvertCronWorkflowToWorkflow).
LABEL_CRON_WORKFLOW = "workflows.argoproj.io/cron-workflow"
ANNOTATION_SCHEDULED_TIME = "workflows.argoproj.io/scheduled-time"

# Paths (§2.1).
VAR_RUN_ARGO = "/var/run/argo"
VAR_RUN_ARGO_VOLUME = "var-run-argo"  # the emptyDir mounted there (§1.4)
OFFLOADED = "offloaded"  # ARGO_TEMPLATE sentinel: the value is in OFFLOADED_TEMPLATE_PATH
OFFLOADED_TEMPLATE_PATH = "/argo/config/ARGO_TEMPLATE"
SECRETS_DIR = "/argo/secret"
STAGING_SCRIPT = "/argo/staging/script"
TERMINATION_LOG = "/dev/termination-log"
TERMINATION_LOG_MAX = 4096
MAIN_CONTAINER = "main"
ZERO_DEADLINE = "0001-01-01T00:00:00Z"

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
