"""Order status by phone: a caller hears their latest order's status (Verimor, Twilio; Netgsm events only)."""
