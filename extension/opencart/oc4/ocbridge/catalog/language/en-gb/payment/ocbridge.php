<?php
$_['text_title']     = 'Pay by card';
$_['text_redirect']  = 'You will pay on the payment provider\'s secure page.';
$_['button_confirm'] = 'Confirm and pay';
$_['error_order']    = 'The order could not be found. Please reload the page.';
$_['error_confirm']  = 'Your order could not be confirmed. Please try again, or contact the shop.';
