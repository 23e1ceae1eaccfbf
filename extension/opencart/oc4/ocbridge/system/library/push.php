<?php
// ocbridge order-event push: tells the hub "this order changed" by a signed POST naming only the order id. The hub
// reads the order from the shop itself and trusts nothing else; a push that fails changes nothing but how soon the
// hub sees the order (its regular poll finds it). Waits at most $timeout seconds: the customer is at checkout.
namespace Opencart\System\Library\Extension\Ocbridge;

class Push {
	public static function url($hub_url, $store_key, $order_id, $secret, $now = null) {
		return Handover::signed($hub_url, 'push', $store_key, $order_id, $secret, $now);
	}

	// The HTTP status the hub answered (0: not reached in time).
	public static function send($url, $timeout = 2.0) {
		if (function_exists('curl_init')) {
			$ch = curl_init($url);
			curl_setopt_array($ch, array(CURLOPT_POST => true, CURLOPT_POSTFIELDS => '', CURLOPT_RETURNTRANSFER => true,
				CURLOPT_CONNECTTIMEOUT_MS => (int)(min(1.0, $timeout) * 1000), CURLOPT_TIMEOUT_MS => (int)($timeout * 1000),
				CURLOPT_FOLLOWLOCATION => false));
			curl_exec($ch);
			$status = (int)curl_getinfo($ch, CURLINFO_HTTP_CODE);
			curl_close($ch);
			return $status;
		}
		$context = stream_context_create(array('http' => array('method' => 'POST', 'header' => "Content-Length: 0\r\n",
			'timeout' => $timeout, 'ignore_errors' => true, 'follow_location' => 0)));
		$body = @file_get_contents($url, false, $context);
		return ($body !== false && isset($http_response_header[0]) && preg_match('#^HTTP/\S+ (\d{3})#', $http_response_header[0], $m)) ? (int)$m[1] : 0;
	}
}
