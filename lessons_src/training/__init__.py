"""The training toolkit every chapter uses: devices and seeds, checkpoints, run reports, results files."""
