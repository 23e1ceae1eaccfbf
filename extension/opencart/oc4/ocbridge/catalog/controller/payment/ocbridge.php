<?php
// Checkout hand-over: on confirm the order is recorded through OpenCart's own history (as bank transfer does, so
// OpenCart's new-order mail goes out), then the customer goes to the hub's pay page; the hub adds "paid" later.
namespace Opencart\Catalog\Controller\Extension\Ocbridge\Payment;

use Opencart\System\Library\Extension\Ocbridge\Handover;

class Ocbridge extends \Opencart\System\Engine\Controller {
	public function index(): string {
		$this->load->language('extension/ocbridge/payment/ocbridge');
		$separator = version_compare(VERSION, '4.0.2.0', '>=') ? '.' : '|';
		$data['action'] = $this->url->link('extension/ocbridge/payment/ocbridge' . $separator . 'confirm', 'language=' . $this->config->get('config_language'));
		$data['text_redirect'] = $this->language->get('text_redirect');
		$data['button_confirm'] = $this->language->get('button_confirm');
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
}
