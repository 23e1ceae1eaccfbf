"""Tables the order totals' confirm/unconfirm and the affiliate commission write (coupon, voucher, reward, credit).

OpenCart's `addOrderHistory`/`addHistory` inserts into the *_history / customer_* tables when an order enters
the processing ∪ complete statuses and deletes those rows when it leaves them (opencart.md §2.3). Columns are
those of real installs (2.3.0.2 install SQL, 3.0.3.9 and 4.0.2.3 dumps); `affiliate_transaction` exists only in
2.3 (3.0 and 4.0 keep the commission in `customer_transaction`, keyed by the affiliate's customer_id).
"""

from sqlalchemy import MetaData

from ._types import C, Char, Date, DateTime, Dec, Int, Str, Text, TinyInt, table


def define(md: MetaData, prefix: str, version: str, engine: str, charset: str) -> None:
    oc23 = version == "2.3"
    oc4 = version.startswith("4.")
    zero_date = None if oc4 else '0000-00-00'
    table(md, prefix, "coupon", engine, charset, pk=('coupon_id',),
          columns=[
              C("coupon_id", Int(11), ai=True),
              C("name", Str(128)),
              C("code", Str(20)),
              C("type", Char(1)),
              C("discount", Dec(15, 4)),
              C("logged", TinyInt(1)),
              C("shipping", TinyInt(1)),
              C("total", Dec(15, 4)),
              C("date_start", Date(), default=zero_date),
              C("date_end", Date(), default=zero_date),
              C("uses_total", Int(11)),
              C("uses_customer", Int(11) if oc4 else Str(11)),
              C("status", TinyInt(1)),
              C("date_added", DateTime()),
          ])
    table(md, prefix, "coupon_history", engine, charset, pk=('coupon_history_id',),
          columns=[
              C("coupon_history_id", Int(11), ai=True),
              C("coupon_id", Int(11)),
              C("order_id", Int(11)),
              C("customer_id", Int(11)),
              C("amount", Dec(15, 4)),
              C("date_added", DateTime()),
          ])
    table(md, prefix, "voucher", engine, charset, pk=('voucher_id',),
          columns=[
              C("voucher_id", Int(11), ai=True),
              C("order_id", Int(11)),
              C("code", Str(10)),
              C("from_name", Str(64)),
              C("from_email", Str(96)),
              C("to_name", Str(64)),
              C("to_email", Str(96)),
              C("voucher_theme_id", Int(11)),
              C("message", Text()),
              C("amount", Dec(15, 4)),
              C("status", TinyInt(1)),
              C("date_added", DateTime()),
          ])
    table(md, prefix, "voucher_history", engine, charset, pk=('voucher_history_id',),
          columns=[
              C("voucher_history_id", Int(11), ai=True),
              C("voucher_id", Int(11)),
              C("order_id", Int(11)),
              C("amount", Dec(15, 4)),
              C("date_added", DateTime()),
          ])
    table(md, prefix, "voucher_theme", engine, charset, pk=('voucher_theme_id',),
          columns=[
              C("voucher_theme_id", Int(11), ai=True),
              C("image", Str(255)),
          ])
    table(md, prefix, "voucher_theme_description", engine, charset, pk=('voucher_theme_id', 'language_id'),
          columns=[
              C("voucher_theme_id", Int(11)),
              C("language_id", Int(11)),
              C("name", Str(32)),
          ])
    table(md, prefix, "order_voucher", engine, charset, pk=('order_voucher_id',),
          columns=[
              C("order_voucher_id", Int(11), ai=True),
              C("order_id", Int(11)),
              C("voucher_id", Int(11)),
              C("description", Str(255)),
              C("code", Str(10)),
              C("from_name", Str(64)),
              C("from_email", Str(96)),
              C("to_name", Str(64)),
              C("to_email", Str(96)),
              C("voucher_theme_id", Int(11)),
              C("message", Text()),
              C("amount", Dec(15, 4)),
          ])
    table(md, prefix, "customer_reward", engine, charset, pk=('customer_reward_id',),
          columns=[
              C("customer_reward_id", Int(11), ai=True),
              C("customer_id", Int(11), default='0'),
              C("order_id", Int(11), default='0'),
              C("description", Text()),
              C("points", Int(8), default='0'),
              C("date_added", DateTime()),
          ])
    table(md, prefix, "customer_transaction", engine, charset, pk=('customer_transaction_id',),
          columns=[
              C("customer_transaction_id", Int(11), ai=True),
              C("customer_id", Int(11)),
              C("order_id", Int(11)),
              C("description", Text()),
              C("amount", Dec(15, 4)),
              C("date_added", DateTime()),
          ])
    if oc23:  # 3.0 moved affiliates into customer / customer_transaction
        table(md, prefix, "affiliate_transaction", engine, charset, pk=('affiliate_transaction_id',),
              columns=[
                  C("affiliate_transaction_id", Int(11), ai=True),
                  C("affiliate_id", Int(11)),
                  C("order_id", Int(11)),
                  C("description", Text()),
                  C("amount", Dec(15, 4)),
                  C("date_added", DateTime()),
              ])
