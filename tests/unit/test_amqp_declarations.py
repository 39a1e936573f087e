"""The web declares RabbitMQ queues as Dramatiq's broker does: any other argument is PRECONDITION_FAILED."""

from dramatiq.brokers.rabbitmq import RabbitmqBroker

from domain.adapters.amqp_queue import build_amqp_broker, queue_arguments


def test_the_queue_arguments_are_the_rabbitmq_brokers_own():
    broker = RabbitmqBroker(url="amqp://guest:guest@127.0.0.1:5672/")  # builds no connection
    for queue in ("reports", "reports.DQ", "webhooks"):
        assert queue_arguments(queue) == broker._build_queue_arguments(queue)


def test_the_workers_broker_has_timeouts_and_confirms():
    broker = build_amqp_broker("amqp://guest:guest@rabbit:5672/folio", socket_timeout_s=5)
    assert broker.confirm_delivery
    parameters = broker.parameters
    assert (parameters.host, parameters.virtual_host) == ("rabbit", "folio")
    assert (parameters.socket_timeout, parameters.connection_attempts) == (5, 1)
    assert parameters.blocked_connection_timeout == 30
