"""Dashboard forms. Secrets are write-only: the widgets never render a value, and blank means "keep"."""

from __future__ import annotations

import json
import secrets as pysecrets
import zoneinfo

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.validators import MinValueValidator, URLValidator
from django.forms.models import ModelChoiceIterator, ModelChoiceIteratorValue
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from ocbridge.core import access
from ocbridge.core.choices import Direction, JobState, Level, OptOutScope, Role, Service, StockSource
from ocbridge.core.errors import ConfigurationError
from ocbridge.core.outbound import check_base_url
from ocbridge.core.models import AlertRoute, Connection, Integration, SpendPolicy, Store
from ocbridge.core.shop_database import CA_PEM_MAX, SQLITE, ShopDatabase, check_ca_pem

SECRET_WIDGET_ATTRS = {"autocomplete": "new-password", "placeholder": ""}
EXTRA_CREDENTIAL_ROWS = 3
# Signing secrets the hub may make up when left empty (the provider is told ours). A provider's own phrases, like
# APS's SHA request/response phrases, are required by its form and never invented.
GENERATED_SIGNING_SECRETS = {"sandbox": "webhook_secret"}
# The credentials each service's client reads (services/<service>.py, webhooks), with what the owner sees: a named
# field per credential with help, instead of free "name = value" rows.
CREDENTIALS: dict[str, list[tuple[str, str, str]]] = {
    "verimor": [("key", _("API key"), _("Verimor panel › Settings › API: the SMS and call campaign key.")),
                ("username", _("Panel user (optional)"), _("Only for the call API where your account uses one.")),
                ("password", _("Panel password (optional)"), "")],
    "netgsm": [("usercode", _("User code"), _("The number you log in to Netgsm with (850…).")),
               ("password", _("API password"), _("Netgsm › Settings › API user: the sub-user's password."))],
    "twilio": [("account_sid", _("Account SID"), _("Twilio Console home page: AC…")),
               ("auth_token", _("Auth token"), _("Twilio Console home page; also checks Twilio's webhook signatures."))],
    "whatsapp": [("access_token", _("Access token"), _("Meta Business › System users: a permanent token.")),
                 ("app_secret", _("App secret"), _("Meta app › Settings › Basic; checks the webhook signatures.")),
                 ("verify_token", _("Verify token"), _("Any phrase; Meta asks for it when the webhook is set up."))],
    "sandbox": [("token", _("Sandbox token"),
                 _("The token the Sandbox was started with (the demo's: demo-sandbox-token).")),
                ("webhook_secret", _("Webhook secret"), _("Signs the Sandbox's webhooks; the same value as the Sandbox's."))],
    "ozon": [("client_id", _("Client ID"), _("Ozon Seller › Settings › API keys.")),
             ("api_key", _("API key"), _("Ozon Seller › Settings › API keys."))],
    "despatch": [("email", _("API user e-mail"), _("Despatch Cloud › Settings › API users.")),
                 ("password", _("API user password"), "")],
    "onebox": [("login", _("Login"), ""), ("password", _("Password"), "")],
    "aps": [("access_code", _("Access code"), ""), ("merchant_identifier", _("Merchant identifier"), ""),
            ("sha_request_phrase", _("SHA request phrase"), ""), ("sha_response_phrase", _("SHA response phrase"), "")],
    "latitudepay": [("api_key", _("API key"), ""), ("api_secret", _("API secret"), "")],
    "smtp": [("username", _("SMTP user"), _("Options: host, port, security (starttls, ssl, none), from_email.")),
             ("password", _("SMTP password"), "")],
    "telegram": [("bot_token", _("Bot token"), _("Telegram › @BotFather › /newbot gives it (123456:ABC…)."))],
}
CREDENTIAL_HINTS = {svc: ", ".join(name for name, _l, _h in rows) for svc, rows in CREDENTIALS.items()}


def _at_most(value: int | None, ceiling: int, setting: str) -> int | None:
    """An owner's limit, refused above the hub's ceiling with the ceiling named."""
    if value is not None and value > ceiling:
        raise forms.ValidationError(_("At most %(n)d on this hub (the administrator's %(setting)s).")
                                    % {"n": ceiling, "setting": setting})
    return value


def secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs=SECRET_WIDGET_ATTRS)


class StoreForm(forms.ModelForm):
    """A Store's plain fields, its database as fields (no URL, so no driver options) and two write-only secrets."""

    db_password = forms.CharField(label=_("Database password"), required=False, widget=secret_input(),
                                  help_text=_("Leave blank to keep."))
    clear_db_password = forms.BooleanField(label=_("Remove the stored database password"), required=False)
    api_key = forms.CharField(label=_("Native API key"), required=False, widget=secret_input(),
                              help_text=_("Leave blank to keep."))
    clear_api_key = forms.BooleanField(label=_("Remove the stored API key"), required=False)
    api_url = forms.URLField(label=_("Native API URL"), required=False, assume_scheme="https",
                             validators=[URLValidator(schemes=["http", "https"])],
                             help_text=_("Shop URL, e.g. https://shop.example.com/"))
    oc_store_id = forms.IntegerField(label=_("OpenCart store id"), min_value=0, max_value=2**31 - 1, initial=0,
                                     help_text=_("0 for the default store; see System › Settings in OpenCart"))

    db_port = forms.IntegerField(label=_("database port"), min_value=1, max_value=65535, initial=3306)
    poll_seconds = forms.IntegerField(label=_("poll interval (seconds)"), min_value=5, max_value=3600, initial=15,
                                      required=False, help_text=_("How often new orders and status changes are read "
                                                                  "from the shop: 5 to 3600 seconds."))
    DB_FIELDS = ("db_host", "db_port", "db_user", "db_name", "db_charset", "db_tls_verify", "db_tls_required",
                 "db_tls_ca")

    class Meta:
        model = Store
        fields = ["name", "db_host", "db_port", "db_user", "db_name", "db_charset", "db_tls_verify", "db_tls_required",
                  "db_tls_ca",
                  "table_prefix", "oc_store_id",
                  "api_url", "api_username", "timezone", "language", "country", "currency", "order_prefix",
                  "stock_source", "poll_seconds", "enabled", "test_sends_per_hour", "login_fail_limit",
                  "personal_data_days"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("db_host", "db_name"):
            self.fields[name].required = True
        self.fields["personal_data_days"].required = False
        from django.conf import settings

        # Ceilings (the browser's max; clean_* refuses above them naming the administrator's setting)
        for name, low, high in (("test_sends_per_hour", 0, settings.TEST_SENDS_MAX_PER_HOUR),
                                ("login_fail_limit", 1, settings.LOGIN_FAIL_LIMIT), ("personal_data_days", 1, 3650)):
            field = self.fields[name]
            field.min_value, field.max_value = low, high
            field.widget.attrs.update(min=low, max=high)
        self.fields["stock_source"].required = False  # not posted (older forms, the CLI): kept as it is
        if self.instance.db_engine == SQLITE:
            # A file on the hub (the demo shop): set from the command line only, never re-pointed from a form.
            for name in (*self.DB_FIELDS, "db_password", "clear_db_password"):
                self.fields.pop(name)

    def clean(self):
        data = super().clean()
        if self.instance.db_engine == SQLITE:
            return data
        self._check_tls_pair(data)
        if self.errors:
            return data
        password = data.get("db_password") or ("" if data.get("clear_db_password")
                                               else self.instance.secret.get("db_password", ""))
        try:
            ShopDatabase(host=data["db_host"].strip(), port=data["db_port"], user=data.get("db_user", ""),
                         password=password, database=data["db_name"], charset=data["db_charset"],
                         tls_verify=bool(data.get("db_tls_verify")), tls_ca=data.get("db_tls_ca") or "",
                         tls_required=bool(data.get("db_tls_required"))).validate()
        except ConfigurationError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    def _post_clean(self):
        super()._post_clean()
        clash = None if self.errors else self.instance.identity_clash()
        if clash is not None:
            self.add_error(None, _("Store “%(name)s” already reads this shop database, table prefix and store id. "
                                   "Use it, or set another store id.") % {"name": clash.name})

    def clean_stock_source(self) -> str:
        """A source needs its integration on this store, and no integration's settings may say otherwise."""
        from ocbridge.core.registry import integrations, stock_source_conflicts

        source = self.cleaned_data.get("stock_source") or self.instance.stock_source or StockSource.SHOP
        if not self.instance.pk:
            if source != StockSource.SHOP:
                raise forms.ValidationError(_("Save the store first, then add the integration that keeps its stock."))
            return source
        if source != StockSource.SHOP and not Integration.objects.filter(store=self.instance, kind=source).exists():
            info = integrations.get(source)
            raise forms.ValidationError(_("Add the %(name)s integration to this store first.")
                                        % {"name": info.label if info else source})
        problems = stock_source_conflicts(self.instance, source)
        if problems:
            raise forms.ValidationError(problems)
        return source
    def clean_test_sends_per_hour(self) -> int | None:
        from django.conf import settings

        return _at_most(self.cleaned_data["test_sends_per_hour"], settings.TEST_SENDS_MAX_PER_HOUR,
                        "OCBRIDGE_TEST_SENDS_MAX_PER_HOUR")

    def clean_login_fail_limit(self) -> int | None:
        from django.conf import settings

        value = _at_most(self.cleaned_data["login_fail_limit"], settings.LOGIN_FAIL_LIMIT, "OCBRIDGE_LOGIN_FAIL_LIMIT")
        if value == 0:
            raise forms.ValidationError(_("At least 1: with 0 nobody could log in."))
        return value

    def clean_personal_data_days(self) -> int:
        value = self.cleaned_data["personal_data_days"]
        if value is None:  # left empty: unchanged (180 days for a new store)
            return self.instance.personal_data_days
        if not 1 <= value <= 3650:
            raise forms.ValidationError(_("Between 1 and 3650 days."))
        return value

    def clean_poll_seconds(self) -> int:
        """Left empty: the store keeps its interval (15 s for a new one)."""
        return self.cleaned_data.get("poll_seconds") or self.instance.poll_seconds or 15

    def clean_db_host(self) -> str:
        return self.cleaned_data["db_host"].strip()

    def clean_db_tls_ca(self) -> str:
        """PEM, bounded, loadable as the connection will load it; said in the owner's language."""
        text = (self.cleaned_data.get("db_tls_ca") or "").strip()
        if not text:
            return ""
        if len(text.encode()) > CA_PEM_MAX:
            raise forms.ValidationError(_("The CA certificate is longer than %(kb)d kB: paste only the CA "
                                          "certificate(s).") % {"kb": CA_PEM_MAX // 1024})
        if "PRIVATE KEY" in text:
            raise forms.ValidationError(_("This is a private key. Paste the certificate of the certificate authority "
                                          "(-----BEGIN CERTIFICATE-----), never a key."))
        try:
            return check_ca_pem(text)
        except ConfigurationError:
            raise forms.ValidationError(_("This is not a CA certificate in PEM form: it must begin with "
                                          "-----BEGIN CERTIFICATE----- and be copied whole.")) from None

    def _check_tls_pair(self, data: dict) -> None:
        if data.get("db_tls_ca") and not data.get("db_tls_verify"):
            self.add_error("db_tls_verify", _("A CA certificate is used only when the server certificate is verified: "
                                              "tick this, or remove the certificate."))

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(_("Unknown time zone, e.g. Europe/Istanbul.")) from None
        return value

    def clean_country(self) -> str:
        return self.cleaned_data["country"].strip().upper()

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    SECRETS = ("db_password", "api_key")

    def changed_secrets(self) -> list[str]:
        return [n for n in self.SECRETS if self.cleaned_data.get(n) or self.cleaned_data.get(f"clear_{n}")]

    def save(self, commit: bool = True) -> Store:
        store = super().save(commit=False)
        secret = dict(store.secret or {})
        for name in self.SECRETS:
            if self.cleaned_data.get(name):
                secret[name] = self.cleaned_data[name]
            elif self.cleaned_data.get(f"clear_{name}"):
                secret.pop(name, None)
        store.secret = secret
        if commit:
            store.save()
        return store


class ConnectionForm(forms.ModelForm):
    """A Connection with its credentials: existing keys can be replaced or removed, new keys added; never shown."""

    base_url = forms.URLField(label=_("API base URL"), required=False, assume_scheme="https",
                              help_text=_("Leave blank for the service's default."))
    options_json = forms.CharField(label=_("Options (JSON)"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                   help_text=_("Service-specific settings that are not secret, e.g. sender name."))

    class Meta:
        model = Connection
        fields = ["service", "name", "base_url", "ip_allowlist", "enabled"]
        widgets = {"ip_allowlist": forms.Textarea(attrs={"rows": 3})}

    share_with = forms.ModelMultipleChoiceField(
        label=_("Also used by"), required=False, queryset=Store.objects.none(), widget=forms.CheckboxSelectMultiple,
        help_text=_("Other stores you own that may use this account (an agency's one Verimor or Netgsm account): "
                    "their features can choose it, replies and results reach the store they belong to, and one rate "
                    "limit serves them all."))

    def __init__(self, *args, services: tuple[str, ...] = (), service: str = "", user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # only stores this user owns, besides the connection's own: sharing never reaches into someone else's shop
        owned = access.scoped(Store, user, Role.OWNER).exclude(pk=self.instance.store_id) if user else Store.objects.none()
        self.fields["share_with"].queryset = owned.order_by("name")
        if self.instance.pk:
            self.initial["share_with"] = list(self.instance.shared_with.filter(pk__in=owned).values_list("pk", flat=True))
        if services:  # added for one feature: only the services it can use
            self.fields["service"].choices = [(v, lbl) for v, lbl in self.fields["service"].choices if v in services]
        service = self.instance.service if self.instance.pk else (self.data.get("service") or service or "")
        if service and not self.instance.pk:
            self.initial["service"] = service
        stored = set(self.instance.secret or {}) if self.instance.pk else set()
        named = CREDENTIALS.get(service, [])
        # one field per credential the service reads (named, with help), then any other stored key
        self.existing_keys = [n for n, _l, _h in named] + sorted(stored - {n for n, _l, _h in named})
        help_for = {n: (lbl, hlp) for n, lbl, hlp in named}
        for key in self.existing_keys:
            label, hint = help_for.get(key, (key, ""))
            state = _("Set. Leave blank to keep.") if key in stored else _("Not set yet.")
            self.fields[f"cred__{key}"] = forms.CharField(label=label, required=False, widget=secret_input(),
                                                          help_text=f"{hint} {state}".strip())
            self.fields[f"credclear__{key}"] = forms.BooleanField(label=_("Remove"), required=False)
        for i in range(EXTRA_CREDENTIAL_ROWS):
            self.fields[f"newkey_{i}"] = forms.SlugField(label=_("New credential name"), required=False, max_length=64)
            self.fields[f"newval_{i}"] = forms.CharField(label=_("Value"), required=False, widget=secret_input())
        if not self.is_bound:
            self.initial["options_json"] = json.dumps(self.instance.options or {}, ensure_ascii=False, indent=1)

    def credential_rows(self):
        """(value field, remove field) per stored key, for the template."""
        return [(self[f"cred__{k}"], self[f"credclear__{k}"]) for k in self.existing_keys]

    def new_rows(self):
        return [(self[f"newkey_{i}"], self[f"newval_{i}"]) for i in range(EXTRA_CREDENTIAL_ROWS)]

    def clean_options_json(self) -> dict:
        raw = self.cleaned_data["options_json"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Options must be a JSON object, e.g. {\"sender\": \"SHOP\"}."))
        return value

    def clean_ip_allowlist(self) -> str:
        import ipaddress

        lines = [line.strip() for line in self.cleaned_data["ip_allowlist"].splitlines() if line.strip()]
        for line in lines:
            try:
                ipaddress.ip_network(line, strict=False)
            except ValueError:
                raise forms.ValidationError(_("Not an IP address or network: %(value)s") % {"value": line}) from None
        return "\n".join(lines)

    def clean(self):
        data = super().clean()
        for i in range(EXTRA_CREDENTIAL_ROWS):
            key, val = data.get(f"newkey_{i}"), data.get(f"newval_{i}")
            if val and not key:
                self.add_error(f"newkey_{i}", _("Give the credential a name."))
            if key and not val:
                self.add_error(f"newval_{i}", _("Enter a value."))
        url = data.get("base_url")
        if url and "base_url" in self.changed_data:  # a stored value from before stays until it is changed
            try:
                check_base_url(data.get("service") or self.instance.service, url)
            except ConfigurationError as exc:
                self.add_error("base_url", str(exc))
        return data

    def changed_secrets(self) -> list[str]:
        d = self.cleaned_data
        names = [k for k in self.existing_keys if d.get(f"cred__{k}") or d.get(f"credclear__{k}")]
        names += [d[f"newkey_{i}"] for i in range(EXTRA_CREDENTIAL_ROWS) if d.get(f"newkey_{i}") and d.get(f"newval_{i}")]
        if getattr(self, "generated", None):
            names.append(GENERATED_SIGNING_SECRETS[self.instance.service])
        return sorted(set(names))

    def save(self, commit: bool = True) -> Connection:
        conn = super().save(commit=False)
        d = self.cleaned_data
        secret = dict(conn.secret or {})
        for key in self.existing_keys:
            if d.get(f"cred__{key}"):
                secret[key] = d[f"cred__{key}"]
            elif d.get(f"credclear__{key}"):
                secret.pop(key, None)
        for i in range(EXTRA_CREDENTIAL_ROWS):
            if d.get(f"newkey_{i}") and d.get(f"newval_{i}"):
                secret[d[f"newkey_{i}"]] = d[f"newval_{i}"]
        key = GENERATED_SIGNING_SECRETS.get(conn.service)
        self.generated = None
        if key and not secret.get(key):  # an empty signing secret makes every signature forgeable
            secret[key] = self.generated = pysecrets.token_urlsafe(32)
        conn.secret = secret
        conn.options = d.get("options_json") or {}
        if commit:
            conn.save()
            self.save_sharing(conn)
        return conn

    def save_sharing(self, conn: Connection) -> None:
        """The chosen stores among those the user owns; sharing with stores they do not own stays as it was."""
        owned = self.fields["share_with"].queryset
        kept = list(conn.shared_with.exclude(pk__in=owned).values_list("pk", flat=True))
        conn.shared_with.set(kept + [s.pk for s in self.cleaned_data.get("share_with") or []])


def _choices(enum, blank=True):
    return ([("", _("All"))] if blank else []) + list(enum.choices)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self):
        super().__init__(format="%Y-%m-%dT%H:%M")


def _attrs_html(attrs: dict) -> str:
    """django/forms/widgets/attrs.html, in Python."""
    return "".join("" if value is False else f" {conditional_escape(name)}"
                   + ("" if value is True else f'="{conditional_escape("%s" % value)}"') for name, value in attrs.items())


class ManyOptionsSelect(forms.Select):
    """A Select written in Python, the same HTML as Django's templates write (select.html, select_option.html,
    attrs.html): Django renders each option through a template, tens of microseconds each — a hub's 1,000 stores in
    a filter's store list cost more than the rest of the page."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        out = [f'<select name="{conditional_escape(widget["name"])}"{_attrs_html(widget["attrs"])}>']
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                out.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in group_choices:
                out.append(f'\n  <option value="{conditional_escape("%s" % option["value"])}"'
                           f'{_attrs_html(option["attrs"])}>{conditional_escape(option["label"])}</option>\n')
            if group_name:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))


class StoreNames(ModelChoiceIterator):
    """A store list's choices from each store's id and name (Store.__str__), without building a Store for each: 1,000
    of them on every filtered page of an agency's hub."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for pk, name in self.queryset.values_list("pk", "name").iterator():
            yield (ModelChoiceIteratorValue(pk, None), name)


class StoreChoiceField(forms.ModelChoiceField):
    """A choice of one of the user's stores, listed by name."""

    iterator = StoreNames
    widget = ManyOptionsSelect


class StoreFilterForm(forms.Form):
    """A filter form whose Store choices are the user's stores (core.access.scoped): others are not even named."""

    store = StoreChoiceField(label=_("Store"), queryset=Store.objects.none(), required=False, empty_label=_("All"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Without the secrets: the chosen store is read for its id (and zone), never its secrets; decrypting them
        # cost more than the rest of the form.
        self.fields["store"].queryset = access.scoped(Store, user).defer("secret")


class ExchangeFilterForm(StoreFilterForm):
    """Filters of the exchange log. A time range is always applied (default: the last 7 days)."""

    level = forms.ChoiceField(label=_("Level"), choices=_choices(Level), required=False)
    service = forms.ChoiceField(label=_("Service"), choices=_choices(Service), required=False)
    store = StoreFilterForm.base_fields["store"]
    direction = forms.ChoiceField(label=_("Direction"), choices=_choices(Direction), required=False)
    order = forms.IntegerField(label=_("Order id"), required=False, min_value=0)
    start = forms.DateTimeField(label=_("From"), required=False, widget=DateTimeLocalInput(),
                                input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"])
    end = forms.DateTimeField(label=_("To"), required=False, widget=DateTimeLocalInput(),
                              input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"])
    q = forms.CharField(label=_("Text"), required=False, max_length=200,
                        help_text=_("Searches URL, bodies and error in the chosen time range."))
    job = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            self.add_error("end", _("The end must be after the start."))
        return data


class JobFilterForm(StoreFilterForm):
    """Filters of the job list."""

    state = forms.ChoiceField(label=_("State"), choices=_choices(JobState), required=False)
    kind = forms.CharField(label=_("Kind"), required=False, max_length=64)
    store = StoreFilterForm.base_fields["store"]


class RetryJobForm(forms.Form):
    """'Retry now' on one job: why, for the audit log."""

    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class ConfirmationFilterForm(StoreFilterForm):
    """Filters of the COD confirmation list (choices come from cod_confirm when it is installed)."""

    state = forms.ChoiceField(label=_("Status"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    store = StoreFilterForm.base_fields["store"]
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Search"), required=False, max_length=100,
                        help_text=_("Name, phone or order number"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from ocbridge.integrations.cod_confirm.choices import Channel, ConfirmationState

        self.fields["state"].choices = _choices(ConfirmationState)
        self.fields["channel"].choices = _choices(Channel)


class ConfirmationActionForm(forms.Form):
    """A person decides or asks for another attempt; the reason is required (it goes into the audit log)."""

    action = forms.ChoiceField(label=_("Action"), choices=[
        ("confirm", _("Confirm the order")), ("cancel", _("Cancel the order")),
        ("call", _("Call again now")), ("sms", _("Send the SMS again now"))])
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.TextInput(),
                             error_messages={"required": _("Say why: it is kept in the audit log.")})

    def clean_reason(self) -> str:
        value = self.cleaned_data["reason"].strip()
        if not value:
            raise forms.ValidationError(_("Say why: it is kept in the audit log."))
        return value


class PhoneCorrectionForm(forms.Form):
    """A person types the customer's right number (audited with the old one)."""

    phone = forms.CharField(label=_("Correct phone number"), max_length=32,
                            help_text=_("As the customer would write it, or with + and the country code."))
    reason = forms.CharField(label=_("Reason"), max_length=500,
                             error_messages={"required": _("Say why: it is kept in the audit log.")})


class BulkActionForm(forms.Form):
    """The overview's "orders need you" list: one decision for the ticked orders, with one reason."""

    action = forms.ChoiceField(label=_("Action"), choices=[
        ("confirm", _("Confirm the orders")), ("cancel", _("Cancel the orders")), ("call", _("Call again now"))])
    reason = forms.CharField(label=_("Reason"), max_length=500,
                             error_messages={"required": _("Say why: it is kept in the audit log.")})
    ids = forms.TypedMultipleChoiceField(coerce=int, required=True, widget=forms.MultipleHiddenInput, error_messages={
        "required": _("Tick the orders first.")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ids = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        # any number is a valid choice here; which of them the user may act on is decided by the view
        self.fields["ids"].choices = [(i, i) for i in ids[:200] if str(i).isdigit()]


class IntegrationBaseForm(forms.ModelForm):
    """The generic part of an Integration: which Connection it uses and whether it is on. Without a connection
    field when the integration names its connections itself (cod_confirm's channel plan)."""

    class Meta:
        model = Integration
        fields = ["connection", "enabled"]

    def __init__(self, *args, services: tuple[str, ...] = (), with_connection: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_connection:
            del self.fields["connection"]
            return
        qs = Connection.objects.filter(store=self.instance.store)
        if services:
            qs = qs.filter(service__in=services)
        self.fields["connection"].queryset = qs
        self.fields["connection"].required = bool(services)


class TestMessageForm(forms.Form):
    """"Send a test call/SMS to my phone": a number in the store's country (or +international) and a channel."""

    phone = forms.CharField(label=_("Your phone number"), max_length=32,
                            help_text=_("Gets a call or an SMS with this store's texts and sample order values."),
                            error_messages={"required": _("Enter the phone number to send the test to.")})
    channel = forms.ChoiceField(label=_("Send"), choices=[("call", _("a test call")), ("sms", _("a test SMS"))],
                                initial="call")

    def __init__(self, *args, country: str = "TR", **kwargs):
        super().__init__(*args, **kwargs)
        self.country = country

    def clean_phone(self) -> str:
        from ocbridge.opencart import phones

        value = self.cleaned_data["phone"].strip()
        e164 = phones.normalize(value, self.country)
        if not e164:
            raise forms.ValidationError(_("This is not a valid phone number for %(country)s."),
                                        params={"country": self.country})
        return e164


class MemberForm(forms.Form):
    """An owner adds a user to their store, or changes a user's role there."""

    username = forms.CharField(label=_("User name"), max_length=150,
                               validators=[UnicodeUsernameValidator()],
                               help_text=_("A new name creates the user; they set their own password with the link."))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.OPERATOR)

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip()


class OptOutForm(forms.Form):
    """A number the owner puts on the do-not-contact list (a customer who asked by phone or e-mail)."""

    phone = forms.CharField(label=_("Phone number"), max_length=32,
                            help_text=_("As the customer would write it, or with + and the country code."))
    scope = forms.ChoiceField(label=_("What not to do"), choices=OptOutScope.choices, initial=OptOutScope.ALL)
    note = forms.CharField(label=_("Note"), max_length=255, required=False,
                           help_text=_("For example how the customer asked; kept in the audit log."))

    def __init__(self, *args, country: str = "TR", **kwargs):
        super().__init__(*args, **kwargs)
        self.country = country

    def clean_phone(self) -> str:
        from ocbridge.opencart import phones

        e164 = phones.normalize(self.cleaned_data["phone"], self.country)
        if not e164:
            raise forms.ValidationError(_("This is not a valid phone number for %(country)s.")
                                        % {"country": self.country})
        return e164


class MailTestForm(forms.Form):
    to = forms.EmailField(label=_("Send a test mail to"))


class AlertRouteForm(forms.ModelForm):
    """Where one user's alerts go (core.alerts): the store is one of theirs, or all of them."""

    sources = forms.MultipleChoiceField(label=_("What"), required=False, widget=forms.CheckboxSelectMultiple,
                                        help_text=_("None ticked: everything that needs a person."))

    class Meta:
        model = AlertRoute
        fields = ["store", "channel", "target", "sources", "digest_minutes", "waiting_minutes", "language", "enabled"]

    def __init__(self, *args, stores=None, **kwargs):
        from ocbridge.core import alerts

        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores if stores is not None else Store.objects.none()
        self.fields["store"].empty_label = _("All my stores")
        self.fields["sources"].choices = alerts.source_choices()
        self.fields["digest_minutes"].min_value = alerts.MIN_DIGEST_MINUTES
        self.fields["digest_minutes"].validators.append(MinValueValidator(alerts.MIN_DIGEST_MINUTES))
        self.fields["digest_minutes"].widget.attrs["min"] = alerts.MIN_DIGEST_MINUTES
        self.fields["waiting_minutes"].validators.append(MinValueValidator(1))

    def clean(self):
        from django.core.validators import validate_email

        from ocbridge.core import telegram

        data = super().clean()
        target = (data.get("target") or "").strip()
        if data.get("channel") == AlertRoute.Channel.EMAIL:
            from ocbridge.core import mail

            try:
                validate_email(target)
            except forms.ValidationError:
                self.add_error("target", _("Enter an e-mail address."))
            if mail.settings_for(data.get("store")) is None:
                self.add_error("channel", _("No mail server is set for this store or the hub."))
        elif data.get("channel") == AlertRoute.Channel.TELEGRAM:
            if not telegram.CHAT_ID.fullmatch(target):
                self.add_error("target", _("Enter the chat id: a number (@userinfobot tells yours; press Start in "
                                           "the hub's bot first so it may write to you), or @channelname."))
            elif telegram.bot_for(data.get("store")) is None:
                self.add_error("channel", _("No Telegram bot is set for this store or the hub: add a Telegram "
                                            "connection to the store, or set OCBRIDGE_TELEGRAM_BOT_TOKEN."))
        data["target"] = target
        return data


class SpendPolicyForm(forms.ModelForm):
    """A store's daily caps and the owner's prices (core.spend). Prices: one line per provider and channel."""

    price_lines = forms.CharField(
        label=_("Prices"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line: provider, channel (call, sms or whatsapp) and the price of one in the store's "
                    "currency, e.g. “netgsm sms 0.06”. Used for the cost cap and the overview's costs."))

    class Meta:
        model = SpendPolicy
        fields = ["call_cap", "sms_cap", "whatsapp_cap", "cost_cap", "credit_low"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("cost_cap", "credit_low"):
            self.fields[name].min_value = 0
            self.fields[name].validators.append(MinValueValidator(0))
        prices = self.instance.prices or {}
        self.fields["price_lines"].initial = "\n".join(
            f"{service} {channel} {value}" for service, per in sorted(prices.items()) for channel, value in sorted(per.items()))

    def clean_price_lines(self) -> dict:
        from decimal import Decimal, InvalidOperation

        from ocbridge.core.spend import CHANNELS

        prices: dict[str, dict[str, str]] = {}
        problems = []
        for n, line in enumerate((self.cleaned_data.get("price_lines") or "").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                problems.append(_("Line %(n)d: write the provider, the channel and the price.") % {"n": n})
                continue
            service, channel, value = parts[0].lower(), parts[1].lower(), parts[2].replace(",", ".")
            if service not in Service.values:
                problems.append(_("Line %(n)d: %(service)s is not a provider the hub knows.") % {"n": n, "service": service})
            elif channel not in CHANNELS:
                problems.append(_("Line %(n)d: the channel is call, sms or whatsapp.") % {"n": n})
            else:
                try:
                    price = Decimal(value)
                except InvalidOperation:
                    price = None
                if price is None or price < 0 or price != price.quantize(Decimal("0.0001")):
                    problems.append(_("Line %(n)d: %(value)s is not a price (e.g. 0.06).") % {"n": n, "value": value})
                else:
                    prices.setdefault(service, {})[channel] = str(price)
        if problems:
            raise forms.ValidationError(problems)
        return prices

    def save(self, commit: bool = True):
        policy = super().save(commit=False)
        policy.prices = self.cleaned_data["price_lines"]
        if commit:
            policy.save()
        return policy
