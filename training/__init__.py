"""Corpora, the split, fine-tuning under Ray Train, and evaluation."""
