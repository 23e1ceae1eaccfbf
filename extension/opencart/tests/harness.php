<?php
// php-cli harness for the ocbridge OpenCart extension, with our own stubs of OpenCart's engine (no OpenCart code).
// Usage: php harness.php <oc3|oc4> <extension root> <scenario JSON>; prints what the extension did as JSON.
// Scenario: {"config": {...}, "session": {...}, "total": 10}. Output: {"method": ..., "json": ..., "history": [...]}.

$layout = $argv[1];
$root = rtrim($argv[2], '/');
$scenario = json_decode($argv[3], true);
$GLOBALS['calls'] = array('history' => array(), 'views' => array());

class StubConfig { public $data; function __construct($d) { $this->data = $d; } function get($k) { return isset($this->data[$k]) ? $this->data[$k] : null; } }
class StubLanguage { function load($f) { return array(); } function get($k) { return $k; } }
class StubResponse { public $headers = array(); public $output = ''; function addHeader($h) { $this->headers[] = $h; } function setOutput($o) { $this->output = $o; } }
// As OpenCart's Url::link: "&" comes out as "&amp;" (for HTML), except in 4.x when the third argument ($js) is true.
class StubUrl { public $layout; function __construct($layout) { $this->layout = $layout; }
	function link($route, $args = '', $third = false) { $url = 'https://shop.example/index.php?route=' . $route . ($args ? '&' . $args : '');
		return ($this->layout === 'oc4' && $third) ? $url : str_replace('&', '&amp;', $url); } }
class StubOrderModel {
	function addOrderHistory($order_id, $status_id) { $GLOBALS['calls']['history'][] = array($order_id, $status_id); }
	function addHistory($order_id, $status_id) { $this->addOrderHistory($order_id, $status_id); }
}
class StubLoader {
	public $owner;
	function language($f) { return array(); }
	function model($route) { $this->owner->{'model_' . str_replace('/', '_', $route)} = new StubOrderModel(); }
	function view($route, $data = array()) { $GLOBALS['calls']['views'][] = array($route, $data); return 'view:' . $route; }
}
class StubRegistry {
	public $config, $session, $language, $response, $url, $load;
	function __construct($scenario) {
		$this->config = new StubConfig($scenario['config']);
		$this->session = (object)array('data' => $scenario['session']);
		$this->language = new StubLanguage();
		$this->response = new StubResponse();
		$this->url = new StubUrl($GLOBALS['layout']);
		$this->load = new StubLoader();
	}
}
trait StubBase {
	public function __construct($registry) {
		foreach (get_object_vars($registry) as $k => $v) { $this->$k = $v; }
		$this->load->owner = $this;
	}
	public function __get($k) { return null; }
}

if ($layout === 'oc3') {
	define('DIR_SYSTEM', $root . '/upload/system/');
	class Controller { use StubBase; }
	class Model { use StubBase; }
	require $root . '/upload/catalog/model/extension/payment/ocbridge.php';
	require $root . '/upload/catalog/controller/extension/payment/ocbridge.php';
	$registry = new StubRegistry($scenario);
	$model = new ModelExtensionPaymentOcbridge($registry);
	$method = $model->getMethod(array(), $scenario['total']);
	$controller = new ControllerExtensionPaymentOcbridge($registry);
} else {
	define('VERSION', isset($scenario['version']) ? $scenario['version'] : '4.0.2.3');
	eval('namespace Opencart\System\Engine; class Controller { use \StubBase; } class Model { use \StubBase; }');
	require $root . '/ocbridge/system/library/handover.php';
	require $root . '/ocbridge/catalog/model/payment/ocbridge.php';
	require $root . '/ocbridge/catalog/controller/payment/ocbridge.php';
	$registry = new StubRegistry($scenario);
	$model = new \Opencart\Catalog\Model\Extension\Ocbridge\Payment\Ocbridge($registry);
	$method = version_compare(VERSION, '4.0.2.0', '>=') ? $model->getMethods(array()) : $model->getMethod(array());
	$controller = new \Opencart\Catalog\Controller\Extension\Ocbridge\Payment\Ocbridge($registry);
}
$page = $controller->index();
$controller->confirm();
echo json_encode(array('method' => $method, 'page' => $page, 'views' => $GLOBALS['calls']['views'],
	'json' => json_decode($registry->response->output, true), 'headers' => $registry->response->headers,
	'history' => $GLOBALS['calls']['history']));
