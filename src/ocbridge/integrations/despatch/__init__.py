"""Despatch Cloud fulfilment: ready orders out, despatch and tracking back, stock in the chosen direction."""
