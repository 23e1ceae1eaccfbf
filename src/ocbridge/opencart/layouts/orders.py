"""Order tables of OpenCart 2.3, 3.0 and 4.0, each written once; `oc4` marks what 4.0 changed.

Columns, defaults and keys are those of real installs (checked against them); edit only with a reason.
"""

from sqlalchemy import MetaData

from ._types import C, DateTime, Dec, Int, Str, Text, TinyInt, only, table


def define(md: MetaData, prefix: str, version: str, engine: str, charset: str) -> None:
    """Add the order tables to `md` with table names `prefix + name`."""
    oc4 = version.startswith("4.")
    table(md, prefix, "order", engine, charset, pk=('order_id',),
          columns=[
              C("order_id", Int(11), ai=True),
              *only(oc4, C("subscription_id", Int(11))),
              C("invoice_no", Int(11), default='0'),
              C("invoice_prefix", Str(26)),
              *only(oc4, C("transaction_id", Str(100))),
              C("store_id", Int(11), default='0'),
              C("store_name", Str(64)),
              C("store_url", Str(255)),
              C("customer_id", Int(11), default='0'),
              C("customer_group_id", Int(11), default='0'),
              C("firstname", Str(32)),
              C("lastname", Str(32)),
              C("email", Str(96)),
              C("telephone", Str(32)),
              *only(not oc4, C("fax", Str(32))),
              C("custom_field", Text()),
              *only(oc4, C("payment_address_id", Int(11))),
              C("payment_firstname", Str(32)),
              C("payment_lastname", Str(32)),
              C("payment_company", Str(60)),
              C("payment_address_1", Str(128)),
              C("payment_address_2", Str(128)),
              C("payment_city", Str(128)),
              C("payment_postcode", Str(10)),
              C("payment_country", Str(128)),
              C("payment_country_id", Int(11)),
              C("payment_zone", Str(128)),
              C("payment_zone_id", Int(11)),
              C("payment_address_format", Text()),
              C("payment_custom_field", Text()),
              # 4.0.2 stores the chosen method as JSON in a TEXT column and drops the varchar code
              C("payment_method", Text() if oc4 else Str(128)),
              *only(not oc4, C("payment_code", Str(128))),
              *only(oc4, C("shipping_address_id", Int(11))),
              C("shipping_firstname", Str(32)),
              C("shipping_lastname", Str(32)),
              C("shipping_company", Str(60) if oc4 else Str(40)),
              C("shipping_address_1", Str(128)),
              C("shipping_address_2", Str(128)),
              C("shipping_city", Str(128)),
              C("shipping_postcode", Str(10)),
              C("shipping_country", Str(128)),
              C("shipping_country_id", Int(11)),
              C("shipping_zone", Str(128)),
              C("shipping_zone_id", Int(11)),
              C("shipping_address_format", Text()),
              C("shipping_custom_field", Text()),
              C("shipping_method", Text() if oc4 else Str(128)),
              *only(not oc4, C("shipping_code", Str(128))),
              C("comment", Text()),
              C("total", Dec(15,4), default='0.0000'),
              C("order_status_id", Int(11), default='0'),
              C("affiliate_id", Int(11)),
              C("commission", Dec(15,4)),
              C("marketing_id", Int(11)),
              C("tracking", Str(64)),
              C("language_id", Int(11)),
              *only(oc4, C("language_code", Str(5))),
              C("currency_id", Int(11)),
              C("currency_code", Str(3)),
              C("currency_value", Dec(15,8), default='1.00000000'),
              C("ip", Str(40)),
              C("forwarded_ip", Str(40)),
              C("user_agent", Str(255)),
              C("accept_language", Str(255)),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
              # 4.0.0.0–4.0.1.x still had varchar payment/shipping codes next to the (then varchar) method
              # names; the "4.0.0" layout is 4.0.2's with the two codes appended.
              *only(version == "4.0.0", C("payment_code", Str(128)), C("shipping_code", Str(128))),
          ])
    table(md, prefix, "order_product", engine, charset, pk=('order_product_id',),
          # 2.3 has no key on order_id here (only PRIMARY); 3.0 added one
          keys=None if version == "2.3" else {"order_id": ('order_id',)},
          columns=[
              C("order_product_id", Int(11), ai=True),
              C("order_id", Int(11)),
              C("product_id", Int(11)),
              *only(oc4, C("master_id", Int(11))),
              C("name", Str(255)),
              C("model", Str(64)),
              C("quantity", Int(4)),
              C("price", Dec(15,4), default='0.0000'),
              C("total", Dec(15,4), default='0.0000'),
              C("tax", Dec(15,4), default='0.0000'),
              C("reward", Int(8)),
          ])
    table(md, prefix, "order_option", engine, charset, pk=('order_option_id',),
          columns=[
              C("order_option_id", Int(11), ai=True),
              C("order_id", Int(11)),
              C("order_product_id", Int(11)),
              C("product_option_id", Int(11)),
              C("product_option_value_id", Int(11), default='0'),
              C("name", Str(255)),
              C("value", Text()),
              C("type", Str(32)),
          ])
    table(md, prefix, "order_total", engine, charset, pk=('order_total_id',),
          keys={"order_id": ('order_id',)},
          columns=[
              C("order_total_id", Int(10), ai=True),
              C("order_id", Int(11)),
              *only(oc4, C("extension", Str(255))),
              C("code", Str(32)),
              C("title", Str(255)),
              C("value", Dec(15,4), default='0.0000'),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "order_history", engine, charset, pk=('order_history_id',),
          columns=[
              C("order_history_id", Int(11), ai=True),
              C("order_id", Int(11)),
              C("order_status_id", Int(11)),
              C("notify", TinyInt(1), default='0'),
              C("comment", Text()),
              C("date_added", DateTime()),
          ])
    # AUTO_INCREMENT inside a composite key, as OpenCart declares it (one row per status and language)
    table(md, prefix, "order_status", engine, charset, pk=('order_status_id', 'language_id'),
          columns=[
              C("order_status_id", Int(11), ai=True),
              C("language_id", Int(11)),
              C("name", Str(32)),
          ])
