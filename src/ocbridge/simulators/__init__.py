"""Loopback HTTP simulators of the telephony/SMS providers (and the Sandbox provider) for tests and the demo.

Stdlib only and independent of the rest of ocbridge. Import the classes from their modules:
`from ocbridge.simulators.sandbox import SandboxSimulator`. `SIMULATORS` maps the CLI name to
"module:Class" so the registry imports nothing until asked.
"""

SIMULATORS = {
    "sandbox": "ocbridge.simulators.sandbox:SandboxSimulator",
    "verimor": "ocbridge.simulators.verimor:VerimorSimulator",
    "netgsm": "ocbridge.simulators.netgsm:NetgsmSimulator",
    "twilio": "ocbridge.simulators.twilio:TwilioSimulator",
    "ozon": "ocbridge.simulators.ozon:OzonSimulator",
    "despatch": "ocbridge.simulators.despatch:DespatchSimulator",
    "onebox": "ocbridge.simulators.onebox:OneBoxSimulator",
    "opencart": "ocbridge.simulators.opencart_api:OpenCartApiSimulator",
    "whatsapp": "ocbridge.simulators.whatsapp:WhatsAppSimulator",
    "telegram": "ocbridge.simulators.telegram:TelegramSimulator",
}


def load(name: str) -> type:
    """The simulator class registered under `name`."""
    import importlib

    module, _, cls = SIMULATORS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
