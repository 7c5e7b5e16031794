"""Ranking evaluation shared by every chapter: metrics, negative sampling, protocols, baselines."""
