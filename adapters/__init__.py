"""Adapters: everything that connects sessionstore to an outside system.

One subpackage per system, each behind its own extra and imported only when used
(``open_store("s3://...")`` imports :mod:`sessionstore.adapters.s3`, never before):

* :mod:`sessionstore.adapters.s3` — Amazon S3 and S3-compatible servers (``sessionstore[s3]``)
* :mod:`sessionstore.adapters.gcs` — Google Cloud Storage (``sessionstore[gcs]``)

An adapter's private modules (``_errors``, ``_retry``...) live inside its subpackage.
"""

from __future__ import annotations
