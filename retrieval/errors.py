"""Typed errors of the retrieval layer; each message says what the user can do about it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.ingest import IngestReport


class CrossmediaError(Exception):
    """Base class for every error crossmedia raises on purpose."""


class MediaError(CrossmediaError):
    """A media file cannot be used (corrupt, unsupported, too large, not found)."""


class UnsupportedMediaError(MediaError):
    """The file's type is not one crossmedia can read."""


class EncoderError(CrossmediaError):
    """An encoder cannot be loaded or cannot encode the given input."""


class IndexStoreError(CrossmediaError):
    """The vector index cannot be opened, read or written."""


class DatasetError(CrossmediaError):
    """A dataset or manifest file is missing or malformed."""


class EmptyQueryError(CrossmediaError):
    """A search was asked for with nothing to search for."""


class OCRError(CrossmediaError):
    """Text in pictures cannot be read: the OCR package or its models are missing or fail."""


class OCRUnavailableError(OCRError):
    """The OCR package or its models are missing or cannot load: no picture can be read until
    it is (re)installed, so callers can stop trying (a failure on one picture is an OCRError)."""


class ClusterError(CrossmediaError):
    """Work cannot run on the Ray cluster: ray is not installed, the cluster cannot be reached,
    or it cannot hold the workers asked for."""


class IngestIncompleteError(CrossmediaError):
    """An ingest stopped before every record was processed (a worker died, a batch failed);
    what it committed is kept and ``report`` says what it did. Running it again resumes."""

    def __init__(self, message: str, report: IngestReport, unfinished: int):
        super().__init__(message)
        self.report = report
        self.unfinished = unfinished
