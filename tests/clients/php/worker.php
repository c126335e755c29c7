<?php
// Real PHP (pecl gearman / libgearman) worker used by tests/clients/test_php.py.
//
// usage: php worker.php PORT FUNCTION DIR [LIFETIME_SECONDS]
//
// Job contract shared by every external test worker (see tests/clients/_util.py):
//   "hold:<x>" -> send WORK_STATUS 1/4, then wait (<= 15 s) until DIR/release exists;
//   "fail:<x>" -> WORK_FAIL;
//   "exc:<x>"  -> WORK_EXCEPTION with data "boom:<x>";
//   "data:<x>" -> WORK_DATA "d1", WORK_WARNING "w1", WORK_STATUS 2/3, then complete;
//   anything   -> append the payload plus "\n" to DIR/done.log and complete with the payload reversed.
// The worker prints "ready" once its function is registered, and exits after LIFETIME seconds.

if ($argc < 4) {
    fwrite(STDERR, "usage: worker.php PORT FUNCTION DIR [LIFETIME]\n");
    exit(2);
}
[$_, $port, $function, $dir] = $argv;
$lifetime = isset($argv[4]) ? (float)$argv[4] : 120.0;

$worker = new GearmanWorker();
$worker->addServer('127.0.0.1', (int)$port);
$worker->setTimeout(250);  // ms: lets the loop notice the lifetime deadline

$worker->addFunction($function, function (GearmanJob $job) use ($dir) {
    $payload = $job->workload();
    if (strncmp($payload, 'hold:', 5) === 0) {
        $job->sendStatus(1, 4);
        $deadline = microtime(true) + 15;
        while (!file_exists("$dir/release") && microtime(true) < $deadline) {
            usleep(20000);
        }
    } elseif (strncmp($payload, 'fail:', 5) === 0) {
        $job->setReturn(GEARMAN_WORK_FAIL);
        return '';
    } elseif (strncmp($payload, 'exc:', 4) === 0) {
        $job->sendException('boom:' . substr($payload, 4));
        $job->setReturn(GEARMAN_WORK_EXCEPTION);
        return '';
    } elseif (strncmp($payload, 'data:', 5) === 0) {
        $job->sendData('d1');
        $job->sendWarning('w1');
        $job->sendStatus(2, 3);
    }
    file_put_contents("$dir/done.log", $payload . "\n", FILE_APPEND | LOCK_EX);
    return strrev($payload);
});

echo "ready\n";
fflush(STDOUT);

$deadline = microtime(true) + $lifetime;
while (microtime(true) < $deadline) {
    if (@$worker->work()) {
        continue;
    }
    $rc = $worker->returnCode();
    // A job that ended in WORK_FAIL/WORK_EXCEPTION makes work() return false too.
    if (in_array($rc, [GEARMAN_SUCCESS, GEARMAN_TIMEOUT, GEARMAN_IO_WAIT, GEARMAN_NO_JOBS,
                       GEARMAN_WORK_FAIL, GEARMAN_WORK_EXCEPTION], true)) {
        continue;
    }
    fwrite(STDERR, "worker error: rc=$rc " . $worker->error() . "\n");
    exit(1);
}
