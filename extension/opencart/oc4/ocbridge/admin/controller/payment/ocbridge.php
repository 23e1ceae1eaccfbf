<?php
// Settings of the ocbridge payment extension: the hub's address, this shop's number at the hub, the signing
// secret the hub shows (Payments › Checkout extension), the status a confirmed order gets, title, order, status.
namespace Opencart\Admin\Controller\Extension\Ocbridge\Payment;

class Ocbridge extends \Opencart\System\Engine\Controller {
	private array $fields = ['payment_ocbridge_hub_url', 'payment_ocbridge_store_key', 'payment_ocbridge_secret',
		'payment_ocbridge_order_status_id', 'payment_ocbridge_title', 'payment_ocbridge_status', 'payment_ocbridge_sort_order', 'payment_ocbridge_push'];

	public function index(): void {
		$this->load->language('extension/ocbridge/payment/ocbridge');
		$this->document->setTitle($this->language->get('heading_title'));
		$separator = version_compare(VERSION, '4.0.2.0', '>=') ? '.' : '|';
		$data['save'] = $this->url->link('extension/ocbridge/payment/ocbridge' . $separator . 'save', 'user_token=' . $this->session->data['user_token']);
		$data['back'] = $this->url->link('marketplace/extension', 'user_token=' . $this->session->data['user_token'] . '&type=payment');
		foreach ($this->fields as $field) {
			$data[$field] = $this->config->get($field);
		}
		$this->load->model('localisation/order_status');
		$data['order_statuses'] = $this->model_localisation_order_status->getOrderStatuses();
		$data['header'] = $this->load->controller('common/header');
		$data['column_left'] = $this->load->controller('common/column_left');
		$data['footer'] = $this->load->controller('common/footer');
		$this->response->setOutput($this->load->view('extension/ocbridge/payment/ocbridge', $data));
	}

	public function save(): void {
		$this->load->language('extension/ocbridge/payment/ocbridge');
		$json = [];
		$post = $this->request->post;
		if (!$this->user->hasPermission('modify', 'extension/ocbridge/payment/ocbridge')) {
			$json['error']['warning'] = $this->language->get('error_permission');
		}
		if (!preg_match('#^https?://#', (string)($post['payment_ocbridge_hub_url'] ?? ''))) {
			$json['error']['hub_url'] = $this->language->get('error_hub_url');
		}
		if ((int)($post['payment_ocbridge_store_key'] ?? 0) <= 0) {
			$json['error']['store_key'] = $this->language->get('error_store_key');
		}
		if (strlen((string)($post['payment_ocbridge_secret'] ?? '')) < 32) {
			$json['error']['secret'] = $this->language->get('error_secret');
		}
		if (!$json) {
			$this->load->model('setting/setting');
			$this->model_setting_setting->editSetting('payment_ocbridge', $post);
			$json['success'] = $this->language->get('text_success');
		}
		$this->response->addHeader('Content-Type: application/json');
		$this->response->setOutput(json_encode($json));
	}

	// Order-event push: OpenCart calls catalog's push() after an order is added and after each history entry.
	// Three things changed within 4.x (checked in OpenCart's own source, tags 4.0.0.0 to 4.1.0.0):
	// addEvent() takes positional arguments only in 4.0.0.0 and an array from 4.0.1.0 (admin/model/setting/event.php);
	// an action names its method after "|" before 4.0.2.0 and after "." from then (system/engine/action.php);
	// a model event's trigger names the method after "/" in every 4.0 release and after "." from 4.1.0.0
	// (system/engine/loader.php fires "model/checkout/order/addHistory/after" in 4.0.2.3).
	public function install(): void {
		$this->load->model('setting/event');
		$action = 'extension/ocbridge/payment/ocbridge' . (version_compare(VERSION, '4.0.2.0', '>=') ? '.' : '|') . 'push';
		$method_separator = version_compare(VERSION, '4.1.0.0', '>=') ? '.' : '/';
		foreach (['ocbridge_push_order' => 'addOrder', 'ocbridge_push_history' => 'addHistory'] as $code => $method) {
			$trigger = 'catalog/model/checkout/order' . $method_separator . $method . '/after';
			$description = 'ocbridge: tell the hub which order changed';
			if (version_compare(VERSION, '4.0.1.0', '>=')) {
				$this->model_setting_event->addEvent(['code' => $code, 'description' => $description, 'trigger' => $trigger,
					'action' => $action, 'status' => 1, 'sort_order' => 0]);
			} else {
				$this->model_setting_event->addEvent($code, $description, $trigger, $action, true, 0);
			}
		}
	}

	public function uninstall(): void {
		$this->load->model('setting/event');
		$this->model_setting_event->deleteEventByCode('ocbridge_push_order');
		$this->model_setting_event->deleteEventByCode('ocbridge_push_history');
	}
}
