"""Ozon marketplace: catalogue, prices and stock out, FBS orders in, category and attribute mapping."""
