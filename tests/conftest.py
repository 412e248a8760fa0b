"""Tests across distributions: the core with the real, installed provider plugins."""
