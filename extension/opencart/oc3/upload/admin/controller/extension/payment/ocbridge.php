<?php
// Settings of the ocbridge payment extension: the hub's address, this shop's number at the hub, the signing
// secret the hub shows (Payments › Checkout extension), the status a confirmed order gets, title, order, status.
class ControllerExtensionPaymentOcbridge extends Controller {
	private $error = array();
	private $fields = array('payment_ocbridge_hub_url', 'payment_ocbridge_store_key', 'payment_ocbridge_secret',
		'payment_ocbridge_order_status_id', 'payment_ocbridge_title', 'payment_ocbridge_status', 'payment_ocbridge_sort_order', 'payment_ocbridge_push');

	public function index() {
		$this->load->language('extension/payment/ocbridge');
		$this->document->setTitle($this->language->get('heading_title'));
		$this->load->model('setting/setting');
		if (($this->request->server['REQUEST_METHOD'] == 'POST') && $this->validate()) {
			$this->model_setting_setting->editSetting('payment_ocbridge', $this->request->post);
			$this->session->data['success'] = $this->language->get('text_success');
			$this->response->redirect($this->url->link('marketplace/extension', 'user_token=' . $this->session->data['user_token'] . '&type=payment', true));
		}
		$data['error'] = $this->error;
		$data['action'] = $this->url->link('extension/payment/ocbridge', 'user_token=' . $this->session->data['user_token'], true);
		$data['cancel'] = $this->url->link('marketplace/extension', 'user_token=' . $this->session->data['user_token'] . '&type=payment', true);
		foreach ($this->fields as $field) {
			$data[$field] = isset($this->request->post[$field]) ? $this->request->post[$field] : $this->config->get($field);
		}
		$this->load->model('localisation/order_status');
		$data['order_statuses'] = $this->model_localisation_order_status->getOrderStatuses();
		$data['header'] = $this->load->controller('common/header');
		$data['column_left'] = $this->load->controller('common/column_left');
		$data['footer'] = $this->load->controller('common/footer');
		$this->response->setOutput($this->load->view('extension/payment/ocbridge', $data));
	}

	protected function validate() {
		if (!$this->user->hasPermission('modify', 'extension/payment/ocbridge')) {
			$this->error['warning'] = $this->language->get('error_permission');
		}
		if (!preg_match('#^https?://#', (string)$this->request->post['payment_ocbridge_hub_url'])) {
			$this->error['hub_url'] = $this->language->get('error_hub_url');
		}
		if ((int)$this->request->post['payment_ocbridge_store_key'] <= 0) {
			$this->error['store_key'] = $this->language->get('error_store_key');
		}
		if (strlen((string)$this->request->post['payment_ocbridge_secret']) < 32) {
			$this->error['secret'] = $this->language->get('error_secret');
		}
		return !$this->error;
	}

	// Order-event push: OpenCart calls catalog's push() after an order is added and after each history entry.
	public function install() {
		$this->load->model('setting/event');
		$this->model_setting_event->addEvent('ocbridge_push_order', 'catalog/model/checkout/order/addOrder/after', 'extension/payment/ocbridge/push');
		$this->model_setting_event->addEvent('ocbridge_push_history', 'catalog/model/checkout/order/addOrderHistory/after', 'extension/payment/ocbridge/push');
	}

	public function uninstall() {
		$this->load->model('setting/event');
		$this->model_setting_event->deleteEventByCode('ocbridge_push_order');
		$this->model_setting_event->deleteEventByCode('ocbridge_push_history');
	}
}
