"""COD confirmation: call or text each new cash-on-delivery order and write the customer's answer to the shop."""
