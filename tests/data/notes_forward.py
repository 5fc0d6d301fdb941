# The staged forward pass of (x + sigmoid(y)) / (sigmoid(x) + (x+y)**2), as the notes write it.
sigy = 1.0 / (1 + math.exp(-y))  #(1)
num = x + sigy                   #(2)
sigx = 1.0 / (1 + math.exp(-x))  #(3)
xpy = x + y                      #(4)
xpysqr = xpy**2                  #(5)
den = sigx + xpysqr              #(6)
invden = 1.0 / den               #(7)
f = num * invden                 #(8)
