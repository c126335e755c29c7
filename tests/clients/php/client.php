<?php
// Real PHP (pecl gearman / libgearman) client used by tests/clients/test_php.py.
//
// usage: php client.php PORT COMMAND ARGS...
//   normal|high|low FUNCTION PAYLOAD [UNIQUE]   doNormal/doHigh/doLow       -> {"result","rc"}
//   bg|highbg|lowbg FUNCTION PAYLOAD [UNIQUE]   do*Background               -> {"handle","rc"}
//   status HANDLE                               jobStatus (GET_STATUS)      -> {"known","running","numerator","denominator","rc"}
//   status_unique UNIQUE                        jobStatusByUniqueKey        -> same keys
//   ping [DATA]                                 ping (ECHO_REQ)             -> {"ok","rc"}
//   tasks FUNCTION PAYLOAD                      addTask + runTasks with every callback -> {"events","rc"}
// Prints one JSON object on stdout. Every call has a 10 s client timeout.

if ($argc < 3) {
    fwrite(STDERR, "usage: client.php PORT COMMAND ARGS...\n");
    exit(2);
}
$port = (int)$argv[1];
$cmd = $argv[2];
$args = array_slice($argv, 3);

$client = new GearmanClient();
$client->addServer('127.0.0.1', $port);
$client->setTimeout(10000);

function out(array $value): void
{
    echo json_encode($value), "\n";
}

switch ($cmd) {
    case 'normal':
    case 'high':
    case 'low':
        $method = ['normal' => 'doNormal', 'high' => 'doHigh', 'low' => 'doLow'][$cmd];
        $result = $client->$method($args[0], $args[1], $args[2] ?? null);
        out(['result' => $result, 'rc' => $client->returnCode()]);
        break;
    case 'bg':
    case 'highbg':
    case 'lowbg':
        $method = ['bg' => 'doBackground', 'highbg' => 'doHighBackground',
                   'lowbg' => 'doLowBackground'][$cmd];
        $handle = $client->$method($args[0], $args[1], $args[2] ?? null);
        out(['handle' => $handle, 'rc' => $client->returnCode()]);
        break;
    case 'status':
    case 'status_unique':
        $st = $cmd === 'status' ? $client->jobStatus($args[0])
                                : $client->jobStatusByUniqueKey($args[0]);
        out(['known' => $st[0], 'running' => $st[1], 'numerator' => $st[2],
             'denominator' => $st[3], 'rc' => $client->returnCode()]);
        break;
    case 'ping':
        $ok = $client->ping($args[0] ?? 'ping-from-php');
        out(['ok' => $ok, 'rc' => $client->returnCode()]);
        break;
    case 'tasks':
        $events = [];
        $client->setCreatedCallback(function ($t) use (&$events) { $events[] = ['created']; });
        $client->setDataCallback(function ($t) use (&$events) { $events[] = ['data', $t->data()]; });
        $client->setWarningCallback(function ($t) use (&$events) { $events[] = ['warning', $t->data()]; });
        $client->setStatusCallback(function ($t) use (&$events) {
            $events[] = ['status', $t->taskNumerator(), $t->taskDenominator()];
        });
        $client->setCompleteCallback(function ($t) use (&$events) { $events[] = ['complete', $t->data()]; });
        $client->setFailCallback(function ($t) use (&$events) { $events[] = ['fail']; });
        $client->setExceptionCallback(function ($t) use (&$events) { $events[] = ['exception', $t->data()]; });
        $client->addTask($args[0], $args[1]);
        $ok = $client->runTasks();
        out(['events' => $events, 'ok' => $ok, 'rc' => $client->returnCode()]);
        break;
    default:
        fwrite(STDERR, "unknown command $cmd\n");
        exit(2);
}
