"""Helpers shared by every chapter: devices and seeds, checkpoints, ranking metrics, plots."""
