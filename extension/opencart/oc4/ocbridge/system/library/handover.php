<?php
// ocbridge hand-over: the signed URL of the hub's pay page for one order. No gateway logic lives here.
// Signature: HMAC-SHA256(secret, "<store>.<order>.<unix time>"), lower-case hex; the hub refuses it after an hour.
namespace Opencart\System\Library\Extension\Ocbridge;

class Handover {
	public static function url($hub_url, $store_key, $order_id, $secret, $now = null) {
		return self::signed($hub_url, 'pay/checkout', $store_key, $order_id, $secret, $now);
	}

	// <hub>/<path>/<store>/<order>/<time>/<signature>/: the hand-over page, or the order-event push (push.php).
	public static function signed($hub_url, $path, $store_key, $order_id, $secret, $now = null) {
		$ts = (int)($now === null ? time() : $now);
		$payload = (int)$store_key . '.' . (int)$order_id . '.' . $ts;
		$sig = hash_hmac('sha256', $payload, (string)$secret);
		return rtrim((string)$hub_url, '/') . '/' . $path . '/' . (int)$store_key . '/' . (int)$order_id . '/' . $ts . '/' . $sig . '/';
	}

	public static function ready($hub_url, $store_key, $secret) {
		return preg_match('#^https?://#', (string)$hub_url) && (int)$store_key > 0 && strlen((string)$secret) >= 32;
	}
}
