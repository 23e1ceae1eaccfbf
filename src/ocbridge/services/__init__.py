"""Outside service clients: one module per service; they import only ocbridge.core.

Telephony/SMS clients (sandbox, verimor, netgsm, twilio) share the shape in `services.base`: a
`<Service>Client(connection, http=None)` with `capabilities`, `start_confirmation_call`, `send_sms`,
`check_credentials` (and `fetch_inbound_sms` where the provider is polled), plus pure module-level
webhook parsers `parse_call_result` / `parse_inbound_sms` / `parse_delivery_report` where the provider
pushes that event.
"""
