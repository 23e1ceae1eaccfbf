<?php
// Checkout hand-over: on confirm the order is recorded through OpenCart's own history (as bank transfer does, so
// OpenCart's new-order mail goes out), then the customer goes to the hub's pay page; the hub adds "paid" later.
namespace Opencart\Catalog\Controller\Extension\Ocbridge\Payment;

use Opencart\System\Library\Extension\Ocbridge\Handover;
use Opencart\System\Library\Extension\Ocbridge\Push;

class Ocbridge extends \Opencart\System\Engine\Controller {
	public function index(): string {
		$this->load->language('extension/ocbridge/payment/ocbridge');
		$separator = version_compare(VERSION, '4.0.2.0', '>=') ? '.' : '|';
		// The third argument asks for "&", not "&amp;": the URL goes into JavaScript (seen on a real 4.0.2.3, where
		// "&amp;language=" lost the customer's language on confirm).
		$data['action'] = $this->url->link('extension/ocbridge/payment/ocbridge' . $separator . 'confirm', 'language=' . $this->config->get('config_language'), true);
		$data['text_redirect'] = $this->language->get('text_redirect');
		$data['button_confirm'] = $this->language->get('button_confirm');
		$data['error_confirm'] = $this->language->get('error_confirm');
		return $this->load->view('extension/ocbridge/payment/ocbridge', $data);
	}

	public function confirm(): void {
		$this->load->language('extension/ocbridge/payment/ocbridge');
		$json = [];
		$code = $this->session->data['payment_method']['code'] ?? ($this->session->data['payment_method'] ?? '');
		if (!isset($this->session->data['order_id']) || !in_array($code, ['ocbridge', 'ocbridge.ocbridge'], true)) {
			$json['error'] = $this->language->get('error_order');
		} else {
			$order_id = (int)$this->session->data['order_id'];
			$this->load->model('checkout/order');
			$this->model_checkout_order->addHistory($order_id, (int)$this->config->get('payment_ocbridge_order_status_id'));
			$json['redirect'] = Handover::url($this->config->get('payment_ocbridge_hub_url'),
				$this->config->get('payment_ocbridge_store_key'), $order_id, $this->config->get('payment_ocbridge_secret'));
		}
		$this->response->addHeader('Content-Type: application/json');
		$this->response->setOutput(json_encode($json));
	}

	// Order-event push (installed by the admin side on checkout/order addOrder and addHistory, "after"): when switched
	// on, tells the hub which order changed. Only the id goes out; the hub reads the order from the shop.
	public function push(string &$route, array &$args, mixed &$output): void {
		if (!$this->config->get('payment_ocbridge_push')) {
			return;
		}
		$hub_url = $this->config->get('payment_ocbridge_hub_url');
		$store_key = $this->config->get('payment_ocbridge_store_key');
		$secret = $this->config->get('payment_ocbridge_secret');
		$order_id = preg_match('/addOrder$/', $route) ? (int)$output : (int)($args[0] ?? 0);
		if ($order_id > 0 && Handover::ready($hub_url, $store_key, $secret)) {
			Push::send(Push::url($hub_url, $store_key, $order_id, $secret));
		}
	}
}
