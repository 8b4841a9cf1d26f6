r"""publish — execute the notebooks, keep only what was verified, print the report, build the book.

==========  ================================================================================
module      what it does
==========  ================================================================================
``book``    papermill runs ``notebooks/``; a notebook is published only when its own checks
            all passed; ``_build/report.json``; Jupyter Book build
``report``  the derivation report: what the engine derives for the two-layer network
==========  ================================================================================

``python -m mfderive.publish`` runs :func:`mfderive.publish.book.main`.
"""
