"""Ingest: loaders, structure, chunks, embedders and the knowledge base.

The bottom layer: ``assistant`` and ``api`` import from here, never the other way round.
"""
