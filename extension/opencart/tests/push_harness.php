<?php
// php-cli harness for the extension's order-event push, with our own stubs of OpenCart's engine (no OpenCart code).
// Usage: php push_harness.php <oc3|oc4> <extension root> <scenario JSON>
// Scenario: {"config": {...}, "route": "checkout/order/addOrderHistory", "args": [42, 1], "output": null,
//            "version": "4.0.2.3"}. The push really goes out (to the hub the test runs). Prints what was done as JSON:
// {"events": [...addEvent calls of install()...], "deleted": [...], "seconds": ...}.

$layout = $argv[1];
$root = rtrim($argv[2], '/');
$scenario = json_decode($argv[3], true);
$GLOBALS['events'] = array();
$GLOBALS['deleted'] = array();

class StubConfig { public $data; function __construct($d) { $this->data = $d; } function get($k) { return isset($this->data[$k]) ? $this->data[$k] : null; } }
class StubEventModel {
	// OpenCart 4.0.1.0+ takes one array, 4.0.0.0 and 3.0 positional strings: a call of the wrong shape fails as it would.
	function addEvent(...$args) {
		$array_api = defined('VERSION') && version_compare(VERSION, '4.0.1.0', '>=');
		if ($array_api !== (count($args) === 1 && is_array($args[0]))) {
			throw new TypeError('addEvent() called with the wrong argument shape for this OpenCart version');
		}
		$GLOBALS['events'][] = $args;
	}
	function deleteEventByCode($code) { $GLOBALS['deleted'][] = $code; }
}
class StubLoader {
	public $owner;
	function language($f) { return array(); }
	function model($route) { $this->owner->{'model_' . str_replace('/', '_', $route)} = new StubEventModel(); }
}
class StubRegistry {
	public $config, $load;
	function __construct($scenario) { $this->config = new StubConfig($scenario['config']); $this->load = new StubLoader(); }
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
	require $root . '/upload/catalog/controller/extension/payment/ocbridge.php';
	$catalog = new ControllerExtensionPaymentOcbridge(new StubRegistry($scenario));
	$admin_file = file_get_contents($root . '/upload/admin/controller/extension/payment/ocbridge.php');
	eval('?>' . str_replace('class ControllerExtensionPaymentOcbridge ', 'class AdminControllerExtensionPaymentOcbridge ', $admin_file));
	$admin = new AdminControllerExtensionPaymentOcbridge(new StubRegistry($scenario));
} else {
	define('VERSION', isset($scenario['version']) ? $scenario['version'] : '4.0.2.3');
	eval('namespace Opencart\System\Engine; class Controller { use \StubBase; }');
	require $root . '/ocbridge/system/library/handover.php';
	require $root . '/ocbridge/system/library/push.php';
	require $root . '/ocbridge/catalog/controller/payment/ocbridge.php';
	require $root . '/ocbridge/admin/controller/payment/ocbridge.php';
	$catalog = new \Opencart\Catalog\Controller\Extension\Ocbridge\Payment\Ocbridge(new StubRegistry($scenario));
	$admin = new \Opencart\Admin\Controller\Extension\Ocbridge\Payment\Ocbridge(new StubRegistry($scenario));
}
$admin->install();
$admin->uninstall();
$route = $scenario['route'];
$args = $scenario['args'];
$output = $scenario['output'];
$t = microtime(true);
$catalog->push($route, $args, $output);
echo json_encode(array('events' => $GLOBALS['events'], 'deleted' => $GLOBALS['deleted'], 'seconds' => microtime(true) - $t));
