"""Plots, tables and widgets that work in the HTML book without a kernel."""
