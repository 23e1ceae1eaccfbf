<?php
$_['heading_title']      = 'ocbridge (pay by card through the hub)';
$_['text_extension']     = 'Extensions';
$_['text_success']       = 'Settings saved.';
$_['text_edit']          = 'Edit ocbridge payment';
$_['entry_hub_url']      = 'Hub address (e.g. https://hub.example.com)';
$_['entry_store_key']    = 'Store number at the hub';
$_['entry_secret']       = 'Signing secret (from the hub: Payments › Checkout extension)';
$_['entry_order_status'] = 'Order status on confirm (before payment)';
$_['entry_title']        = 'Title at checkout';
$_['entry_status']       = 'Status';
$_['entry_sort_order']   = 'Sort order';
$_['entry_push']         = 'Tell the hub about new orders at once';
$_['help_push']          = 'Sends only the order number to the hub when an order is placed or its status changes; the hub reads the order itself. Without it the hub finds orders at its next poll.';
$_['error_permission']   = 'You may not change this extension.';
$_['error_hub_url']      = 'Enter the hub\'s address, starting with https://';
$_['error_store_key']    = 'Enter the store\'s number as the hub shows it.';
$_['error_secret']       = 'Paste the whole signing secret the hub shows (at least 32 characters).';
