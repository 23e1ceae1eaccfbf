"""Store, customer, catalog and API tables of OpenCart 2.3, 3.0 and 4.0, each written once.

`oc23` / `oc4` mark what only 2.3 had and what 4.0 changed; everything else is the same in all three.
Columns, defaults and keys are those of real installs (checked against them); edit only with a reason.
"""

from sqlalchemy import MetaData

from ._types import C, Char, Date, DateTime, Dec, Double, Float, Int, Str, Text, TinyInt, only, table


def define(md: MetaData, prefix: str, version: str, engine: str, charset: str) -> None:
    """Add the tables to `md` with table names `prefix + name`."""
    oc23 = version == "2.3"
    oc4 = version.startswith("4.")
    # 4.0 declares images NOT NULL and dates without the zero-date default 2.3/3.0 had
    image_null = not oc4
    zero_date = None if oc4 else '0000-00-00'

    table(md, prefix, "language", engine, charset, pk=('language_id',),
          keys={"name": ('name',)},
          columns=[
              C("language_id", Int(11), ai=True),
              C("name", Str(32)),
              C("code", Str(5)),
              C("locale", Str(255)),
              *only(not oc4, C("image", Str(64)), C("directory", Str(32))),
              *only(oc4, C("extension", Str(255))),
              C("sort_order", Int(3), default='0'),
              C("status", TinyInt(1)),
          ])
    table(md, prefix, "setting", engine, charset, pk=('setting_id',),
          columns=[
              C("setting_id", Int(11), ai=True),
              C("store_id", Int(11), default='0'),
              C("code", Str(32) if oc23 else Str(128)),
              C("key", Str(64) if oc23 else Str(128)),
              C("value", Text()),
              C("serialized", TinyInt(1), default='0' if oc4 else None),
          ])
    table(md, prefix, "store", engine, charset, pk=('store_id',),
          columns=[
              C("store_id", Int(11), ai=True),
              C("name", Str(64)),
              C("url", Str(255)),
              *only(not oc4, C("ssl", Str(255))),
          ])
    table(md, prefix, "customer", engine, charset, pk=('customer_id',),
          columns=[
              C("customer_id", Int(11), ai=True),
              C("customer_group_id", Int(11)),
              C("store_id", Int(11), default='0'),
              C("language_id", Int(11)),
              C("firstname", Str(32)),
              C("lastname", Str(32)),
              C("email", Str(96)),
              C("telephone", Str(32)),
              *only(not oc4, C("fax", Str(32))),
              # 4.0 stores password_hash() output (up to 255 chars) and has no separate salt
              C("password", Str(255) if oc4 else Str(40)),
              *only(not oc4, C("salt", Str(9)), C("cart", Text(), null=True), C("wishlist", Text(), null=True),
                    C("newsletter", TinyInt(1), default='0'), C("address_id", Int(11), default='0')),
              C("custom_field", Text()),
              *only(oc4, C("newsletter", TinyInt(1), default='0')),
              C("ip", Str(40)),
              C("status", TinyInt(1)),
              *only(oc23, C("approved", TinyInt(1))),
              C("safe", TinyInt(1)),
              C("token", Text()),
              C("code", Str(40)),
              C("date_added", DateTime()),
          ])
    # The customer write (opencart.writes.upsert_customer) checks the group exists; same in 2.3.0.2–4.0.2.3.
    table(md, prefix, "customer_group", engine, charset, pk=('customer_group_id',),
          columns=[
              C("customer_group_id", Int(11), ai=True),
              C("approval", Int(1)),
              C("sort_order", Int(3)),
          ])
    # Its name per language (admin/model/customer/customer_group.php; same in 2.3.0.2–4.0.2.3).
    table(md, prefix, "customer_group_description", engine, charset, pk=('customer_group_id', 'language_id'),
          columns=[
              C("customer_group_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(32)),
              C("description", Text()),
          ])
    table(md, prefix, "product", engine, charset, pk=('product_id',),
          columns=[
              C("product_id", Int(11), ai=True),
              *only(oc4, C("master_id", Int(11), default='0')),
              C("model", Str(64)),
              C("sku", Str(64)),
              C("upc", Str(12)),
              C("ean", Str(14)),
              C("jan", Str(13)),
              C("isbn", Str(17)),
              C("mpn", Str(64)),
              C("location", Str(128)),
              *only(oc4, C("variant", Text(), default=''), C("override", Text(), default='')),
              C("quantity", Int(4), default='0'),
              C("stock_status_id", Int(11)),
              C("image", Str(255), null=image_null),
              C("manufacturer_id", Int(11)),
              C("shipping", TinyInt(1), default='1'),
              C("price", Dec(15,4), default='0.0000'),
              C("points", Int(8), default='0'),
              C("tax_class_id", Int(11)),
              C("date_available", Date(), default=zero_date),
              C("weight", Dec(15,8), default='0.00000000'),
              C("weight_class_id", Int(11), default='0'),
              C("length", Dec(15,8), default='0.00000000'),
              C("width", Dec(15,8), default='0.00000000'),
              C("height", Dec(15,8), default='0.00000000'),
              C("length_class_id", Int(11), default='0'),
              C("subtract", TinyInt(1), default='1'),
              C("minimum", Int(11), default='1'),
              *only(oc4, C("rating", Int(1))),
              C("sort_order", Int(11), default='0'),
              C("status", TinyInt(1), default='0'),
              *only(not oc4, C("viewed", Int(5), default='0')),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "product_description", engine, charset, pk=('product_id', 'language_id'),
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
    table(md, prefix, "product_option", engine, charset, pk=('product_option_id',),
          columns=[
              C("product_option_id", Int(11), ai=True),
              C("product_id", Int(11)),
              C("option_id", Int(11)),
              C("value", Text()),
              C("required", TinyInt(1)),
          ])
    table(md, prefix, "product_option_value", engine, charset, pk=('product_option_value_id',),
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
    # Options and their values as the admin's option form saves them, the same columns in 2.3–4.0 (2.3.0.2/3.0.3.9
    # opencart.sql, 4.0.2.3 system/helper/db_schema.php): written when options come in from a CRM, and read to say a
    # 4.0 variant's `variant` JSON (product_option_id → product_option_value_id of its master) in words (Colour: Red).
    table(md, prefix, "option", engine, charset, pk=('option_id',),
          columns=[
              C("option_id", Int(11), ai=True),
              C("type", Str(32)),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "option_value", engine, charset, pk=('option_value_id',),
          columns=[
              C("option_value_id", Int(11), ai=True),
              C("option_id", Int(11)),
              C("image", Str(255)),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "option_description", engine, charset, pk=('option_id', 'language_id'),
          columns=[
              C("option_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(128)),
          ])
    table(md, prefix, "option_value_description", engine, charset, pk=('option_value_id', 'language_id'),
          columns=[
              C("option_value_id", Int(11)),
              C("language_id", Int(11)),
              C("option_id", Int(11)),
              C("name", Str(128)),
          ])
    table(md, prefix, "product_to_category", engine, charset, pk=('product_id', 'category_id'),
          keys={"category_id": ('category_id',)},
          columns=[
              C("product_id", Int(11)),
              C("category_id", Int(11)),
          ])
    table(md, prefix, "product_to_store", engine, charset, pk=('product_id', 'store_id'),
          columns=[
              C("product_id", Int(11)),
              C("store_id", Int(11), default='0'),
          ])
    table(md, prefix, "product_image", engine, charset, pk=('product_image_id',),
          keys={"product_id": ('product_id',)},
          columns=[
              C("product_image_id", Int(11), ai=True),
              C("product_id", Int(11)),
              C("image", Str(255), null=image_null),
              C("sort_order", Int(3), default='0'),
          ])
    table(md, prefix, "product_special", engine, charset, pk=('product_special_id',),
          keys={"product_id": ('product_id',)},
          columns=[
              C("product_special_id", Int(11), ai=True),
              C("product_id", Int(11)),
              C("customer_group_id", Int(11)),
              C("priority", Int(5), default='1'),
              C("price", Dec(15,4), default='0.0000'),
              C("date_start", Date(), default=zero_date),
              C("date_end", Date(), default=zero_date),
          ])
    # Quantity discounts and filters (2.3.0.2/3.0.3.9 opencart.sql, 4.0.2.3 db_schema.php): read for the catalogue
    # out (opencart.catalog), part of each product's fingerprint.
    table(md, prefix, "product_discount", engine, charset, pk=('product_discount_id',),
          keys={"product_id": ('product_id',)},
          columns=[
              C("product_discount_id", Int(11), ai=True),
              C("product_id", Int(11)),
              C("customer_group_id", Int(11)),
              C("quantity", Int(4), default='0'),
              C("priority", Int(5), default='1'),
              C("price", Dec(15,4), default='0.0000'),
              C("date_start", Date(), default=zero_date),
              C("date_end", Date(), default=zero_date),
          ])
    table(md, prefix, "product_filter", engine, charset, pk=('product_id', 'filter_id'),
          columns=[
              C("product_id", Int(11)),
              C("filter_id", Int(11)),
          ])
    table(md, prefix, "filter", engine, charset, pk=('filter_id',),
          columns=[
              C("filter_id", Int(11), ai=True),
              C("filter_group_id", Int(11)),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "filter_description", engine, charset, pk=('filter_id', 'language_id'),
          columns=[
              C("filter_id", Int(11)),
              C("language_id", Int(11)),
              C("filter_group_id", Int(11)),
              C("name", Str(64)),
          ])
    table(md, prefix, "filter_group_description", engine, charset, pk=('filter_group_id', 'language_id'),
          columns=[
              C("filter_group_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(64)),
          ])
    table(md, prefix, "category", engine, charset, pk=('category_id',),
          keys={"parent_id": ('parent_id',)},
          columns=[
              C("category_id", Int(11), ai=True),
              C("image", Str(255), null=image_null),
              C("parent_id", Int(11), default='0'),
              C("top", TinyInt(1)),
              C("column", Int(3)),
              C("sort_order", Int(3), default='0'),
              C("status", TinyInt(1)),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "category_description", engine, charset, pk=('category_id', 'language_id'),
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
    # What the category write (opencart.category_model) touches besides the two above: the closure table of
    # ancestors and the stores (2.3.0.2/3.0.3.9 opencart.sql, 4.0.2.3 db_schema.php; 4.0 gives store_id default 0).
    table(md, prefix, "category_path", engine, charset, pk=('category_id', 'path_id'),
          columns=[
              C("category_id", Int(11)),
              C("path_id", Int(11)),
              C("level", Int(11)),
          ])
    table(md, prefix, "category_to_store", engine, charset, pk=('category_id', 'store_id'),
          columns=[
              C("category_id", Int(11)),
              C("store_id", Int(11), default='0' if oc4 else None),
          ])
    table(md, prefix, "manufacturer", engine, charset, pk=('manufacturer_id',),
          columns=[
              C("manufacturer_id", Int(11), ai=True),
              C("name", Str(64)),
              C("image", Str(255), null=image_null),
              C("sort_order", Int(3)),
          ])
    # What the product write (opencart.product_model) also touches: a manufacturer it creates is offered in the
    # product's stores; attributes it creates go in a group. Same in 2.3–4.0 (2.3.0.2/3.0.3.9 opencart.sql,
    # 4.0.2.3 db_schema.php).
    table(md, prefix, "manufacturer_to_store", engine, charset, pk=('manufacturer_id', 'store_id'),
          columns=[
              C("manufacturer_id", Int(11)),
              C("store_id", Int(11)),
          ])
    table(md, prefix, "attribute_group", engine, charset, pk=('attribute_group_id',),
          columns=[
              C("attribute_group_id", Int(11), ai=True),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "attribute_group_description", engine, charset, pk=('attribute_group_id', 'language_id'),
          columns=[
              C("attribute_group_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(64)),
          ])
    table(md, prefix, "currency", engine, charset, pk=('currency_id',),
          columns=[
              C("currency_id", Int(11), ai=True),
              C("title", Str(32)),
              C("code", Str(3)),
              C("symbol_left", Str(12)),
              C("symbol_right", Str(12)),
              C("decimal_place", Int(1) if oc4 else Char(1)),
              C("value", Float(15,8) if oc23 else Double(15,8)),
              C("status", TinyInt(1)),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "country", engine, charset, pk=('country_id',),
          columns=[
              C("country_id", Int(11), ai=True),
              C("name", Str(128)),
              C("iso_code_2", Str(2)),
              C("iso_code_3", Str(3)),
              # 4.0 moved address formats to their own table and refers to one by id
              C("address_format_id", Int(11)) if oc4 else C("address_format", Text()),
              C("postcode_required", TinyInt(1)),
              C("status", TinyInt(1), default='1'),
          ])
    table(md, prefix, "zone", engine, charset, pk=('zone_id',),
          columns=[
              C("zone_id", Int(11), ai=True),
              C("country_id", Int(11)),
              C("name", Str(128)),
              C("code", Str(32)),
              C("status", TinyInt(1), default='1'),
          ])
    table(md, prefix, "api", engine, charset, pk=('api_id',),
          columns=[
              C("api_id", Int(11), ai=True),
              C("name" if oc23 else "username", Str(64)),  # renamed in 3.0
              C("key", Text()),
              C("status", TinyInt(1)),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    table(md, prefix, "api_ip", engine, charset, pk=('api_ip_id',),
          columns=[
              C("api_ip_id", Int(11), ai=True),
              C("api_id", Int(11)),
              C("ip", Str(40)),
          ])
    table(md, prefix, "api_session", engine, charset, pk=('api_session_id',),
          columns=[
              C("api_session_id", Int(11), ai=True),
              C("api_id", Int(11)),
              *only(oc23, C("token", Str(32))),
              C("session_id", Str(32)),
              *only(oc23, C("session_name", Str(32))),
              C("ip", Str(40)),
              C("date_added", DateTime()),
              C("date_modified", DateTime()),
          ])
    if not oc23:
        # sessions in the database came with 3.0; that table was InnoDB even while the rest was MyISAM
        table(md, prefix, "session", "InnoDB", charset, pk=('session_id',),
              keys={"expire": ('expire',)} if oc4 else None,
              columns=[
                  C("session_id", Str(32)),
                  C("data", Text()),
                  C("expire", DateTime()),
              ])
    table(md, prefix, "length_class", engine, charset, pk=('length_class_id',),
          columns=[
              C("length_class_id", Int(11), ai=True),
              C("value", Dec(15,8)),
          ])
    table(md, prefix, "length_class_description", engine, charset, pk=('length_class_id', 'language_id'),
          columns=[
              C("length_class_id", Int(11)),
              C("language_id", Int(11)),
              C("title", Str(32)),
              C("unit", Str(4)),
          ])
    table(md, prefix, "weight_class", engine, charset, pk=('weight_class_id',),
          columns=[
              C("weight_class_id", Int(11), ai=True),
              C("value", Dec(15,8), default='0.00000000'),
          ])
    table(md, prefix, "weight_class_description", engine, charset, pk=('weight_class_id', 'language_id'),
          columns=[
              C("weight_class_id", Int(11)),
              C("language_id", Int(11)),
              C("title", Str(32)),
              C("unit", Str(4)),
          ])
    table(md, prefix, "attribute", engine, charset, pk=('attribute_id',),
          columns=[
              C("attribute_id", Int(11), ai=True),
              C("attribute_group_id", Int(11)),
              C("sort_order", Int(3)),
          ])
    table(md, prefix, "attribute_description", engine, charset, pk=('attribute_id', 'language_id'),
          columns=[
              C("attribute_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(64)),
          ])
    table(md, prefix, "product_attribute", engine, charset, pk=('product_id', 'attribute_id', 'language_id'),
          columns=[
              C("product_id", Int(11)),
              C("attribute_id", Int(11)),
              C("language_id", Int(11)),
              C("text", Text()),
          ])
