"""OpenCart 4.0.2+ (4.0.2.0-4.0.2.3) tables the hub uses, with the columns, defaults and keys of a real install.

Generated once from an install's schema and checked against it; edit by hand only with a reason.
"""

from sqlalchemy import MetaData

from ._types import C, DateTime, Date, Dec, Double, Int, Str, Text, TinyInt, table


def define(md: MetaData, prefix: str, charset: str) -> None:
    """Add the tables to `md` with table names `prefix + name`."""
    table(md, prefix, "order", "InnoDB", charset, pk=('order_id',),
          columns=[
              C("order_id", Int(11), ai=True),
              C("subscription_id", Int(11)),
              C("invoice_no", Int(11), default='0'),
              C("invoice_prefix", Str(26)),
              C("transaction_id", Str(100)),
              C("store_id", Int(11), default='0'),
              C("store_name", Str(64)),
              C("store_url", Str(255)),
              C("customer_id", Int(11), default='0'),
              C("customer_group_id", Int(11), default='0'),
              C("firstname", Str(32)),
              C("lastname", Str(32)),
              C("email", Str(96)),
              C("telephone", Str(32)),
              C("custom_field", Text()),
              C("payment_address_id", Int(11)),
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
              C("payment_method", Text()),
              C("shipping_address_id", Int(11)),
              C("shipping_firstname", Str(32)),
              C("shipping_lastname", Str(32)),
              C("shipping_company", Str(60)),
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
              C("shipping_method", Text()),
              C("comment", Text()),
              C("total", Dec(15,4), default='0.0000'),
              C("order_status_id", Int(11), default='0'),
              C("affiliate_id", Int(11)),
              C("commission", Dec(15,4)),
              C("marketing_id", Int(11)),
              C("tracking", Str(64)),
              C("language_id", Int(11)),
              C("language_code", Str(5)),
              C("currency_id", Int(11)),
              C("currency_code", Str(3)),
              C("currency_value", Dec(15,8), default='1.00000000'),
              C("ip", Str(40)),
              C("forwarded_ip", Str(40)),
              C("user_agent", Str(255)),
              C("accept_language", Str(255)),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "order_product", "InnoDB", charset, pk=('order_product_id',),
          keys={"order_id": ('order_id',)},
          columns=[
              C("order_product_id", Int(11), ai=True),
              C("order_id", Int(11)),
              C("product_id", Int(11)),
              C("master_id", Int(11)),
              C("name", Str(255)),
              C("model", Str(64)),
              C("quantity", Int(4)),
              C("price", Dec(15,4), default='0.0000'),
              C("total", Dec(15,4), default='0.0000'),
              C("tax", Dec(15,4), default='0.0000'),
              C("reward", Int(8)),
          ])
    table(md, prefix, "order_option", "InnoDB", charset, pk=('order_option_id',),
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
    table(md, prefix, "order_total", "InnoDB", charset, pk=('order_total_id',),
          keys={"order_id": ('order_id',)},
          columns=[
              C("order_total_id", Int(10), ai=True),
              C("order_id", Int(11)),
              C("extension", Str(255)),
              C("code", Str(32)),
              C("title", Str(255)),
              C("value", Dec(15,4), default='0.0000'),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "order_history", "InnoDB", charset, pk=('order_history_id',),
          columns=[
              C("order_history_id", Int(11), ai=True),
              C("order_id", Int(11)),
              C("order_status_id", Int(11)),
              C("notify", TinyInt(1), default='0'),
              C("comment", Text()),
              C("date_added", DateTime()),
          ])
    table(md, prefix, "order_status", "InnoDB", charset, pk=('order_status_id', 'language_id'),
          columns=[
              C("order_status_id", Int(11), ai=True),
              C("language_id", Int(11)),
              C("name", Str(32)),
          ])
    table(md, prefix, "language", "InnoDB", charset, pk=('language_id',),
          keys={"name": ('name',)},
          columns=[
              C("language_id", Int(11), ai=True),
              C("name", Str(32)),
              C("code", Str(5)),
              C("locale", Str(255)),
              C("extension", Str(255)),
              C("sort_order", Int(3), default='0'),
              C("status", TinyInt(1)),
          ])
    table(md, prefix, "setting", "InnoDB", charset, pk=('setting_id',),
          columns=[
              C("setting_id", Int(11), ai=True),
              C("store_id", Int(11), default='0'),
              C("code", Str(128)),
              C("key", Str(128)),
              C("value", Text()),
              C("serialized", TinyInt(1), default='0'),
          ])
    table(md, prefix, "store", "InnoDB", charset, pk=('store_id',),
          columns=[
              C("store_id", Int(11), ai=True),
              C("name", Str(64)),
              C("url", Str(255)),
          ])
    table(md, prefix, "customer", "InnoDB", charset, pk=('customer_id',),
          columns=[
              C("customer_id", Int(11), ai=True),
              C("customer_group_id", Int(11)),
              C("store_id", Int(11), default='0'),
              C("language_id", Int(11)),
              C("firstname", Str(32)),
              C("lastname", Str(32)),
              C("email", Str(96)),
              C("telephone", Str(32)),
              C("password", Str(255)),
              C("custom_field", Text()),
              C("newsletter", TinyInt(1), default='0'),
              C("ip", Str(40)),
              C("status", TinyInt(1)),
              C("safe", TinyInt(1)),
              C("token", Text()),
              C("code", Str(40)),
              C("date_added", DateTime()),
          ])
    table(md, prefix, "product", "InnoDB", charset, pk=('product_id',),
          columns=[
              C("product_id", Int(11), ai=True),
              C("master_id", Int(11), default='0'),
              C("model", Str(64)),
              C("sku", Str(64)),
              C("upc", Str(12)),
              C("ean", Str(14)),
              C("jan", Str(13)),
              C("isbn", Str(17)),
              C("mpn", Str(64)),
              C("location", Str(128)),
              C("variant", Text(), default=''),
              C("override", Text(), default=''),
              C("quantity", Int(4), default='0'),
              C("stock_status_id", Int(11)),
              C("image", Str(255)),
              C("manufacturer_id", Int(11)),
              C("shipping", TinyInt(1), default='1'),
              C("price", Dec(15,4), default='0.0000'),
              C("points", Int(8), default='0'),
              C("tax_class_id", Int(11)),
              C("date_available", Date()),
              C("weight", Dec(15,8), default='0.00000000'),
              C("weight_class_id", Int(11), default='0'),
              C("length", Dec(15,8), default='0.00000000'),
              C("width", Dec(15,8), default='0.00000000'),
              C("height", Dec(15,8), default='0.00000000'),
              C("length_class_id", Int(11), default='0'),
              C("subtract", TinyInt(1), default='1'),
              C("minimum", Int(11), default='1'),
              C("rating", Int(1)),
              C("sort_order", Int(11), default='0'),
              C("status", TinyInt(1), default='0'),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "product_description", "InnoDB", charset, pk=('product_id', 'language_id'),
          keys={"name": ('name',)},
          columns=[
              C("product_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(255)),
              C("description", Text()),
              C("tag", Text()),
              C("meta_title", Str(255)),
              C("meta_description", Str(255)),
              C("meta_keyword", Str(255)),
          ])
    table(md, prefix, "product_option", "InnoDB", charset, pk=('product_option_id',),
          columns=[
              C("product_option_id", Int(11), ai=True),
              C("product_id", Int(11)),
              C("option_id", Int(11)),
              C("value", Text()),
              C("required", TinyInt(1)),
          ])
    table(md, prefix, "product_option_value", "InnoDB", charset, pk=('product_option_value_id',),
          columns=[
              C("product_option_value_id", Int(11), ai=True),
              C("product_option_id", Int(11)),
              C("product_id", Int(11)),
              C("option_id", Int(11)),
              C("option_value_id", Int(11)),
              C("quantity", Int(3)),
              C("subtract", TinyInt(1)),
              C("price", Dec(15,4)),
              C("price_prefix", Str(1)),
              C("points", Int(8)),
              C("points_prefix", Str(1)),
              C("weight", Dec(15,8)),
              C("weight_prefix", Str(1)),
          ])
    table(md, prefix, "product_to_category", "InnoDB", charset, pk=('product_id', 'category_id'),
          keys={"category_id": ('category_id',)},
          columns=[
              C("product_id", Int(11)),
              C("category_id", Int(11)),
          ])
    table(md, prefix, "product_to_store", "InnoDB", charset, pk=('product_id', 'store_id'),
          columns=[
              C("product_id", Int(11)),
              C("store_id", Int(11), default='0'),
          ])
    table(md, prefix, "product_image", "InnoDB", charset, pk=('product_image_id',),
          keys={"product_id": ('product_id',)},
          columns=[
              C("product_image_id", Int(11), ai=True),
              C("product_id", Int(11)),
              C("image", Str(255)),
              C("sort_order", Int(3), default='0'),
          ])
    table(md, prefix, "product_special", "InnoDB", charset, pk=('product_special_id',),
          keys={"product_id": ('product_id',)},
          columns=[
              C("product_special_id", Int(11), ai=True),
              C("product_id", Int(11)),
              C("customer_group_id", Int(11)),
              C("priority", Int(5), default='1'),
              C("price", Dec(15,4), default='0.0000'),
              C("date_start", Date()),
              C("date_end", Date()),
          ])
    table(md, prefix, "category", "InnoDB", charset, pk=('category_id',),
          keys={"parent_id": ('parent_id',)},
          columns=[
              C("category_id", Int(11), ai=True),
              C("image", Str(255)),
              C("parent_id", Int(11), default='0'),
              C("top", TinyInt(1)),
              C("column", Int(3)),
              C("sort_order", Int(3), default='0'),
              C("status", TinyInt(1)),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "category_description", "InnoDB", charset, pk=('category_id', 'language_id'),
          keys={"name": ('name',)},
          columns=[
              C("category_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(255)),
              C("description", Text()),
              C("meta_title", Str(255)),
              C("meta_description", Str(255)),
              C("meta_keyword", Str(255)),
          ])
    table(md, prefix, "manufacturer", "InnoDB", charset, pk=('manufacturer_id',),
          columns=[
              C("manufacturer_id", Int(11), ai=True),
              C("name", Str(64)),
              C("image", Str(255)),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "currency", "InnoDB", charset, pk=('currency_id',),
          columns=[
              C("currency_id", Int(11), ai=True),
              C("title", Str(32)),
              C("code", Str(3)),
              C("symbol_left", Str(12)),
              C("symbol_right", Str(12)),
              C("decimal_place", Int(1)),
              C("value", Double(15,8)),
              C("status", TinyInt(1)),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "country", "InnoDB", charset, pk=('country_id',),
          columns=[
              C("country_id", Int(11), ai=True),
              C("name", Str(128)),
              C("iso_code_2", Str(2)),
              C("iso_code_3", Str(3)),
              C("address_format_id", Int(11)),
              C("postcode_required", TinyInt(1)),
              C("status", TinyInt(1), default='1'),
          ])
    table(md, prefix, "zone", "InnoDB", charset, pk=('zone_id',),
          columns=[
              C("zone_id", Int(11), ai=True),
              C("country_id", Int(11)),
              C("name", Str(128)),
              C("code", Str(32)),
              C("status", TinyInt(1), default='1'),
          ])
    table(md, prefix, "api", "InnoDB", charset, pk=('api_id',),
          columns=[
              C("api_id", Int(11), ai=True),
              C("username", Str(64)),
              C("key", Text()),
              C("status", TinyInt(1)),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "api_ip", "InnoDB", charset, pk=('api_ip_id',),
          columns=[
              C("api_ip_id", Int(11), ai=True),
              C("api_id", Int(11)),
              C("ip", Str(40)),
          ])
    table(md, prefix, "api_session", "InnoDB", charset, pk=('api_session_id',),
          columns=[
              C("api_session_id", Int(11), ai=True),
              C("api_id", Int(11)),
              C("session_id", Str(32)),
              C("ip", Str(40)),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "session", "InnoDB", charset, pk=('session_id',),
          keys={"expire": ('expire',)},
          columns=[
              C("session_id", Str(32)),
              C("data", Text()),
              C("expire", DateTime()),
          ])
    table(md, prefix, "length_class", "InnoDB", charset, pk=('length_class_id',),
          columns=[
              C("length_class_id", Int(11), ai=True),
              C("value", Dec(15,8)),
          ])
    table(md, prefix, "length_class_description", "InnoDB", charset, pk=('length_class_id', 'language_id'),
          columns=[
              C("length_class_id", Int(11)),
              C("language_id", Int(11)),
              C("title", Str(32)),
              C("unit", Str(4)),
          ])
    table(md, prefix, "weight_class", "InnoDB", charset, pk=('weight_class_id',),
          columns=[
              C("weight_class_id", Int(11), ai=True),
              C("value", Dec(15,8), default='0.00000000'),
          ])
    table(md, prefix, "weight_class_description", "InnoDB", charset, pk=('weight_class_id', 'language_id'),
          columns=[
              C("weight_class_id", Int(11)),
              C("language_id", Int(11)),
              C("title", Str(32)),
              C("unit", Str(4)),
          ])
    table(md, prefix, "attribute", "InnoDB", charset, pk=('attribute_id',),
          columns=[
              C("attribute_id", Int(11), ai=True),
              C("attribute_group_id", Int(11)),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "attribute_description", "InnoDB", charset, pk=('attribute_id', 'language_id'),
          columns=[
              C("attribute_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(64)),
          ])
    table(md, prefix, "product_attribute", "InnoDB", charset, pk=('product_id', 'attribute_id', 'language_id'),
          columns=[
              C("product_id", Int(11)),
              C("attribute_id", Int(11)),
              C("language_id", Int(11)),
              C("text", Text()),
          ])
