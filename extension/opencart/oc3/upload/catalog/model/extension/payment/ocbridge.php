<?php
// Offers "Pay by card" at checkout when the hub is set up (no gateway logic: the hub's pay page does the rest).
class ModelExtensionPaymentOcbridge extends Model {
	public function getMethod($address, $total) {
		$this->load->language('extension/payment/ocbridge');
		require_once(DIR_SYSTEM . 'library/ocbridge/handover.php');
		if (!$this->config->get('payment_ocbridge_status') || $total <= 0
			|| !OcbridgeHandover::ready($this->config->get('payment_ocbridge_hub_url'), $this->config->get('payment_ocbridge_store_key'), $this->config->get('payment_ocbridge_secret'))) {
			return array();
		}
		$title = $this->config->get('payment_ocbridge_title');
		return array(
			'code'       => 'ocbridge',
			'title'      => $title ? $title : $this->language->get('text_title'),
			'terms'      => '',
			'sort_order' => $this->config->get('payment_ocbridge_sort_order')
		);
	}
}
