"""`python -m cli cost`: capacity and monthly cost of a day of traffic under the autoscaling policy."""
