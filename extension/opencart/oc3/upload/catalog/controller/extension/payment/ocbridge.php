<?php
// Checkout hand-over: on confirm the order is recorded through OpenCart's own history (as bank transfer does, so
// OpenCart's new-order mail goes out), then the customer goes to the hub's pay page; the hub adds "paid" later.
class ControllerExtensionPaymentOcbridge extends Controller {
	public function index() {
		$this->load->language('extension/payment/ocbridge');
		$data['action'] = $this->url->link('extension/payment/ocbridge/confirm', '', true);
		return $this->load->view('extension/payment/ocbridge', $data);
	}

	public function confirm() {
		$this->load->language('extension/payment/ocbridge');
		require_once(DIR_SYSTEM . 'library/ocbridge/handover.php');
		$json = array();
		if (!isset($this->session->data['order_id']) || !isset($this->session->data['payment_method']['code'])
			|| $this->session->data['payment_method']['code'] != 'ocbridge') {
			$json['error'] = $this->language->get('error_order');
		} else {
			$order_id = (int)$this->session->data['order_id'];
			$this->load->model('checkout/order');
			$this->model_checkout_order->addOrderHistory($order_id, (int)$this->config->get('payment_ocbridge_order_status_id'));
			$json['redirect'] = OcbridgeHandover::url($this->config->get('payment_ocbridge_hub_url'),
				$this->config->get('payment_ocbridge_store_key'), $order_id, $this->config->get('payment_ocbridge_secret'));
		}
		$this->response->addHeader('Content-Type: application/json');
		$this->response->setOutput(json_encode($json));
	}

	// Order-event push (installed by the admin side on checkout/order addOrder and addOrderHistory, "after"): when
	// switched on, tells the hub which order changed. Only the id goes out; the hub reads the order from the shop.
	public function push(&$route, &$args, &$output) {
		if (!$this->config->get('payment_ocbridge_push')) {
			return;
		}
		require_once(DIR_SYSTEM . 'library/ocbridge/handover.php');
		require_once(DIR_SYSTEM . 'library/ocbridge/push.php');
		$hub_url = $this->config->get('payment_ocbridge_hub_url');
		$store_key = $this->config->get('payment_ocbridge_store_key');
		$secret = $this->config->get('payment_ocbridge_secret');
		$order_id = preg_match('/addOrder$/', (string)$route) ? (int)$output : (int)(isset($args[0]) ? $args[0] : 0);
		if ($order_id > 0 && OcbridgeHandover::ready($hub_url, $store_key, $secret)) {
			OcbridgePush::send(OcbridgePush::url($hub_url, $store_key, $order_id, $secret));
		}
	}
}
