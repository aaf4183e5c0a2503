"""Transfer settings shared by the drivers. Built by ``argoexec.config`` from the environment;
drivers never read the environment themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from argoexec.retry import Backoff

MIB = 1024 * 1024


@dataclass(frozen=True)
class TransferSettings:
    """Knobs for every artifact transfer. Units are in the field names or comments."""

    # S3 multipart upload: parallel part uploads (ARTIFACT_S3_UPLOAD_THREADS, Argo default 4).
    # A streamed upload holds upload_threads parts in memory.
    upload_threads: int = 4
    # Multipart part size in bytes (ARTIFACT_S3_UPLOAD_PART_SIZE_MIB; None = our default 5 MiB,
    # S3's minimum, which keeps a streamed upload's buffers at 20 MiB).
    part_size: int | None = None
    # Parallel ranged GETs for one large object (count), and the size of each range in bytes.
    # A streamed download holds (download_threads + 1) ranges in memory: 20 MiB by default.
    # Measured on a 500 MiB .tgz load from SeaweedFS (peak RSS, median time): 4 x 4 MiB 73.9 MiB
    # 3.7 s; 3 x 3 MiB 65.6 MiB 3.8 s; 4 x 2 MiB 63.9 MiB 4.5 s (each range is a request whose
    # botocore overhead competes with extraction for the GIL).
    download_threads: int = 4
    download_chunk_size: int = 4 * MIB
    # Objects at least this large are fetched with parallel ranged GETs.
    parallel_download_threshold: int = 16 * MIB
    # Worker pool for directories transferred object by object (archive: none, S3/GCS prefixes)
    # (ARGOEXEC_DIR_WORKERS). Small objects are latency-bound: at a 20 ms round trip
    # (bench.artifacts --rtt-ms 20) 5,000 x 10 KiB took 17-20 s with 16 workers, 15 s with 32,
    # 10-13 s with 64, for ~3 MiB more RSS (threads and pooled connections, no buffers).
    dir_workers: int = 64
    # Gzip level when the artifact does not set archive.tar.compressionLevel, zlib-style 0-9:
    # 0 = stored, 1-3 -> ISA-L 1, 4-6 -> ISA-L 2, 7-9 -> ISA-L 3.
    default_compression_level: int = 1
    # Compression threads for tar+gzip (ISA-L releases the GIL).
    compression_threads: int = 2
    # Refuse to unpack archives whose total extracted size exceeds this (bytes; 0 = no cap;
    # None = half the space free on the destination's disk when the extraction starts).
    max_extract_bytes: int | None = None
    # Whole-operation retries for transient errors (EXECUTOR_RETRY_BACKOFF_*).
    backoff: Backoff = field(default_factory=Backoff)
    # Where temporary files go when one is unavoidable (never a copy of a whole artifact).
    tmp_dir: Path | None = None
    # Regex from TRANSIENT_ERROR_PATTERN: any error whose text matches is transient.
    transient_error_pattern: str | None = None
    # GCS JSON API endpoint override (STORAGE_EMULATOR_HOST); None = Google's public endpoint.
    gcs_endpoint: str | None = None
    # known_hosts file for Git over SSH (SSH_KNOWN_HOSTS); None = ssh's own defaults.
    ssh_known_hosts: Path | None = None
    # PEM CA bundle trusted for HTTPS artifact URLs (ARGOEXEC_HTTP_CA_BUNDLE); None = certifi.
    http_ca_bundle: Path | None = None
    # Connect/read timeouts for network calls, seconds.
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
