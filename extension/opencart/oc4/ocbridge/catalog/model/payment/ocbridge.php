<?php
// Offers "Pay by card" at checkout when the hub is set up (no gateway logic: the hub's pay page does the rest).
namespace Opencart\Catalog\Model\Extension\Ocbridge\Payment;

use Opencart\System\Library\Extension\Ocbridge\Handover;

class Ocbridge extends \Opencart\System\Engine\Model {
	// 4.0.2+: the methods with their options (code "ocbridge.ocbridge")
	public function getMethods(array $address = []): array {
		$this->load->language('extension/ocbridge/payment/ocbridge');
		if (!$this->available()) {
			return [];
		}
		$title = $this->config->get('payment_ocbridge_title') ?: $this->language->get('text_title');
		return [
			'code'       => 'ocbridge',
			'name'       => $title,
			'option'     => ['ocbridge' => ['code' => 'ocbridge.ocbridge', 'name' => $title]],
			'sort_order' => $this->config->get('payment_ocbridge_sort_order')
		];
	}

	// 4.0.0–4.0.1: one method (code "ocbridge")
	public function getMethod(array $address = []): array {
		$this->load->language('extension/ocbridge/payment/ocbridge');
		if (!$this->available()) {
			return [];
		}
		return [
			'code'       => 'ocbridge',
			'title'      => $this->config->get('payment_ocbridge_title') ?: $this->language->get('text_title'),
			'sort_order' => $this->config->get('payment_ocbridge_sort_order')
		];
	}

	private function available(): bool {
		return (bool)$this->config->get('payment_ocbridge_status') && Handover::ready(
			$this->config->get('payment_ocbridge_hub_url'), $this->config->get('payment_ocbridge_store_key'),
			$this->config->get('payment_ocbridge_secret'));
	}
}
