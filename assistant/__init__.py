"""Retrieval for answering, the evidence gate, LLM backends, checklists and inspections."""
